import { cpus } from "node:os";
import { assetPresent, depHome, modelPath, TINYLLAMA } from "@dep/core";
import { addonPath, backendInfo, cpuRepackDefault, gradEngineBuild } from "@dep/native-cuda";
import type { Command } from "commander";
import { chooseThreads } from "../threads.js";
import { readVersions } from "../versions.js";

export function registerInfo(program: Command): void {
  program
    .command("info")
    .description(
      "print the native backend (CPU features, CUDA), versions, the cache folder and which assets are present",
    )
    .option("--json", "print one JSON object", false)
    .addHelpText("after", "\nExample:\n  $ dep info --json")
    .action((opts: { json: boolean }) => {
      const backend = backendInfo();
      const info = {
        versions: { ...readVersions(), llamaCpp: backend.llamaCppVersion, ggml: backend.ggmlVersion },
        addon: addonPath(),
        cpuFeatures: backend.cpuFeatures,
        cpu: { ...backend.cpu, model: cpus()[0]?.model ?? "unknown", repack: cpuRepackDefault() },
        cuda: backend.cuda,
        gradEngine: gradEngineBuild(),
        cache: depHome(),
        threads: chooseThreads(),
        assets: { [TINYLLAMA.id]: { path: modelPath(TINYLLAMA), present: assetPresent(TINYLLAMA) } },
      };
      if (opts.json) {
        console.log(JSON.stringify(info, null, 2));
        return;
      }
      const cuda = backend.cuda.compiled
        ? `compiled; ${backend.cuda.devices.length} device(s)${backend.cuda.devices.map((d) => ` [${d.index}] ${d.name} (sm ${d.computeCapability})`).join("")}${backend.cuda.error ? ` (${backend.cuda.error})` : ""}`
        : "not compiled";
      console.log(
        `dep ${info.versions.dep}  (node ${process.versions.node}, llama.cpp ${info.versions.llamaCpp}, ggml ${info.versions.ggml})`,
      );
      console.log(`addon      ${info.addon}`);
      const cpu = info.cpu;
      console.log(`cpu        ${cpu.model}: ${cpu.machineFeatures.join(" ") || "(no AVX2 or later)"}`);
      console.log(
        `llama.cpp  ${cpu.target} build (${backend.cpuFeatures.join(" ") || "no SIMD"}); AMX path ${cpu.amxCompiled ? "compiled in" : "off (DEP_GGML_AMX=ON builds it)"}`,
      );
      console.log(
        `repacking  ${cpu.repack ? "on" : "off (DEP_CPU_REPACK=0)"}: ${cpu.repackTypes.length > 0 ? cpu.repackTypes.join(" ") : "no repacked layouts on this CPU"}`,
      );
      console.log(`cuda       ${cuda}${backend.cuda.ggmlCuda ? "; llama.cpp on GPU: yes" : ""}`);
      const engine = info.gradEngine;
      console.log(
        `engine     native training engine: ${engine.matmul}; dtypes ${engine.dtypes.join(" ")}, ${engine.onednn ? `dep train uses it in ${engine.defaultDtype}` : "dep train uses the ggml graph (install libdnnl-dev and rebuild for oneDNN)"}`,
      );
      console.log(`cache      ${info.cache}`);
      console.log(`threads    ${info.threads.threads} (from ${info.threads.reason})`);
      for (const w of info.threads.ignored) console.log(`threads    ${w}`);
      for (const [id, a] of Object.entries(info.assets)) {
        console.log(`asset      ${id}: ${a.present ? a.path : "missing (run `pnpm assets`)"}`);
      }
    });
}
