import { createEmbedder, embedDataset, synthesize } from "@dep/core";

const n = Number(process.argv[2]);
const dir = `/tmp/wt19/syn${n}`;
const t = performance.now();
await synthesize({ users: n, seed: 42, outDir: `${dir}/data`, categories: ["Books"], overwrite: true });
const e = await createEmbedder("use-lite");
const r = await embedDataset({ dataDir: `${dir}/data`, embedder: e, outDir: `${dir}/emb` });
await e.dispose?.();
console.log(n, "users", r.texts, "texts", ((performance.now() - t) / 1000).toFixed(1), "s");
