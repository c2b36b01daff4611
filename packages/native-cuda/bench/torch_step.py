#!/usr/bin/env python3
"""PyTorch's training step on the shapes bench_engine --synthetic times, for a ratio measured in the same run.

Where PyTorch is installed (the GPU box's image has it; it is not installable on the development machines),
this times what issue 15 compares the engine against: a llama forward of TinyLlama-1.1B's shape with random
frozen weights, from 16 prompt rows, 16 soft rows (requires_grad) and the rest of the prompt, the mean
cross-entropy of the last 129 positions' logits, and its backward to the soft rows (weights frozen: no
weight gradients). `--dtypes f32,bf16`: F32 weights, or bf16 weights (the issue's "bf16 weights" row).
One child process per row, so that each row's peak memory is its own. Figures are printed, never asserted.

  python3 bench/torch_step.py --threads 2 [--positions 384,1024,3072] [--dtypes f32,bf16] [--json]
"""

import argparse
import json
import resource
import subprocess
import sys
import time

SHAPE = dict(embd=2048, layers=22, heads=32, kv=4, ff=5632, vocab=32000)
SOFT_ROWS, TARGETS, HEAD_TOKENS = 16, 129, 16


def run_row(dtype_name: str, positions: int, threads: int) -> dict:
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    dtype = torch.bfloat16 if dtype_name == "bf16" else torch.float32
    D, L, H, KV, FF, V = (SHAPE[k] for k in ("embd", "layers", "heads", "kv", "ff", "vocab"))
    hd = D // H

    def mat(n_in, n_out):  # y = x @ w, N(0, 0.02) like bench_engine's synthetic model
        return (torch.randn(n_in, n_out) * 0.02).to(dtype)

    layers = [
        dict(wq=mat(D, D), wk=mat(D, KV * hd), wv=mat(D, KV * hd), wo=mat(D, D),
             wg=mat(D, FF), wu=mat(D, FF), wd=mat(FF, D), n1=torch.ones(D, dtype=dtype), n2=torch.ones(D, dtype=dtype))
        for _ in range(L)
    ]
    embed = (torch.randn(V, D) * 0.02).to(dtype)
    out_norm = torch.ones(D, dtype=dtype)
    inv = 1.0 / (10000.0 ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    ang = torch.outer(torch.arange(positions, dtype=torch.float32), inv)
    cos, sin = torch.cat([ang.cos()] * 2, -1).to(dtype), torch.cat([ang.sin()] * 2, -1).to(dtype)

    def rms(x, w):
        return x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + 1e-5).to(x.dtype) * w

    def rope(x):  # [H, T, hd], rotate-half form
        a, b = x[..., : hd // 2], x[..., hd // 2:]
        return x * cos + torch.cat([-b, a], -1) * sin

    n_prompt = positions - TARGETS + 1
    tokens = torch.randint(0, V, (n_prompt - SOFT_ROWS + TARGETS,))
    targets = tokens[-TARGETS:]
    soft = (torch.randn(SOFT_ROWS, D) * 0.02).to(dtype).requires_grad_(True)

    def step():
        ids = tokens[: n_prompt - SOFT_ROWS + TARGETS - 1]
        x = torch.cat([embed[ids[:HEAD_TOKENS]], soft, embed[ids[HEAD_TOKENS:]]])
        T = x.shape[0]
        for w in layers:
            h = rms(x, w["n1"])
            q = rope((h @ w["wq"]).view(T, H, hd).transpose(0, 1))
            k = rope((h @ w["wk"]).view(T, KV, hd).transpose(0, 1)).repeat_interleave(H // KV, 0)
            v = (h @ w["wv"]).view(T, KV, hd).transpose(0, 1).repeat_interleave(H // KV, 0)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + a.transpose(0, 1).reshape(T, D) @ w["wo"]
            h = rms(x, w["n2"])
            x = x + (F.silu(h @ w["wg"]) * (h @ w["wu"])) @ w["wd"]
        logits = rms(x[-TARGETS:], out_norm) @ embed.t()
        loss = F.cross_entropy(logits.float(), targets)
        soft.grad = None
        loss.backward()
        return loss.item()

    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    loss = step()
    second = time.perf_counter() - t0
    return dict(engine="torch " + torch.__version__, dtype=dtype_name, device="cpu", positions=positions,
                softRows=SOFT_ROWS, targets=TARGETS, firstCallMs=round(first * 1000), stepMs=round(second * 1000),
                peakRssBytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, loss=loss)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--positions", default="384,1024,3072")
    ap.add_argument("--dtypes", default="f32,bf16")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--row", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.row:
        dtype, positions = a.row.split(":")
        print(json.dumps(run_row(dtype, int(positions), a.threads)))
        return 0
    rows = []
    for positions in (int(p) for p in a.positions.split(",")):
        if positions < TARGETS + SOFT_ROWS + HEAD_TOKENS:
            sys.exit(f"--positions: each must be >= {TARGETS + SOFT_ROWS + HEAD_TOKENS}")
        for dtype in a.dtypes.split(","):
            if dtype not in ("f32", "bf16"):
                sys.exit(f"--dtypes: f32 and/or bf16, got '{dtype}'")
            print(f"torch {dtype} {positions} positions ...", file=sys.stderr)
            r = subprocess.run([sys.executable, __file__, "--row", f"{dtype}:{positions}", "--threads", str(a.threads)],
                               capture_output=True, text=True)
            lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
            if r.returncode != 0 or not lines:
                print(r.stderr[-2000:], file=sys.stderr)
                rows.append(dict(engine="torch", dtype=dtype, device="cpu", positions=positions, error=f"exit {r.returncode}"))
                continue
            rows.append(json.loads(lines[-1]))
    if a.json:
        print(json.dumps(dict(threads=a.threads, shape=SHAPE, rows=rows)))
        return 0
    print(f"PyTorch, {a.threads} threads, random weights of shape {SHAPE}")
    print("| engine | dtype | positions | first call | step | peak RSS | loss |\n|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['engine']} | {r['dtype']} | {r['positions']} | {r['error']} | | | |")
            continue
        print(f"| {r['engine']} | {r['dtype']} | {r['positions']} | {r['firstCallMs'] / 1000:.2f} s | "
              f"{r['stepMs'] / 1000:.2f} s | {r['peakRssBytes'] / 2**20:.0f} MiB | {r['loss']:.5f} |")
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
