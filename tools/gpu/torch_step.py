#!/usr/bin/env python3
"""PyTorch eager timing of the same work bench_kernels times on the GPU (issue 3):
  * SAE + both projectors forward+backward: 16 samples x 16 rows, d 1024, h 512, H 2048 / 3584, loss as
    SPEC-DEP §6 (SmoothL1 beta 1 + 1e-3 KL, x100), upstream gradients on the projector outputs; in F32
    and under bf16 autocast (the counterpart of our BF16 tensor-core path);
  * the difference embedding written as vectorised torch ops (gather, norms, softmax, weighted sum).
Median of --runs after warm-up, CUDA-event timed. --json writes {"kernel|shape|f32|bf16": ms}."""
import argparse, json
import torch
import torch.nn as nn
import torch.nn.functional as F


def timed(fn, runs):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(runs):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); fn(); b.record(); b.synchronize()
        ts.append(a.elapsed_time(b))
    ts.sort()
    return ts[len(ts) // 2]


def step_fn(H, bf16, dev):
    d, h, B = 1024, 512, 16
    enc, dec = nn.Linear(d, h).to(dev), nn.Linear(h, d).to(dev)
    ph = nn.Sequential(nn.Linear(h, H), nn.GELU(), nn.Linear(H, H)).to(dev)
    pd = nn.Sequential(nn.Linear(h, H), nn.GELU(), nn.Linear(H, H)).to(dev)
    X = torch.randn(B, 16, d, device=dev) * 0.05
    dyh = torch.randn(B, 8, H, device=dev) * 1e-3
    dyd = torch.randn(B, 8, H, device=dev) * 1e-3
    params = [*enc.parameters(), *dec.parameters(), *ph.parameters(), *pd.parameters()]

    def run():
        for p in params:
            p.grad = None
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            z = F.gelu(enc(X))
            xh = F.gelu(dec(z))
            rec = F.smooth_l1_loss(xh.float(), X, beta=1.0, reduction="none").mean(dim=(1, 2))
            rho_hat = z.float().mean(dim=1).clamp(1e-6, 1 - 1e-6)
            rho = 0.05
            kl = (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).mean(dim=1)
            loss = (100 * (rec + 1e-3 * kl)).mean()
            yh, yd = ph(z[:, :8]), pd(z[:, 8:])
            total = loss + (yh.float() * dyh).sum() + (yd.float() * dyd).sum()
        total.backward()

    return run


def diff_fn(P, bf16, dev):
    d, T, n_users, n_rows = 1024, 4096, 8192, 65536
    dt = torch.bfloat16 if bf16 else torch.float32
    emb = torch.randn(n_rows, d, device=dev).to(dt)
    means = torch.randn(n_users, d, device=dev)
    self_row = torch.randint(0, n_rows, (T,), device=dev)
    self_user = torch.randint(0, n_users, (T,), device=dev)
    prow = torch.randint(0, n_rows, (T, P), device=dev)
    puser = torch.randint(0, n_users, (T, P), device=dev)

    def run():
        s = (means[self_user][:, None, :] - means[puser]).norm(dim=-1)
        w = torch.softmax(s / s.sum(dim=1, keepdim=True), dim=1)
        return emb[self_row].float() - (w[..., None] * emb[prow].float()).sum(dim=1)

    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    dev = "cuda"
    torch.backends.cuda.matmul.allow_tf32 = False  # F32 means F32 (our F32 path does not use TF32)
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}")
    out = {}
    for P in (16, 64):
        for bf in (False, True):
            ms = timed(diff_fn(P, bf, dev), a.runs)
            key = f"diff_embed|T=4096 d=1024 peers={P} {'bf16' if bf else 'f32'}|{'bf16' if bf else 'f32'}"
            out[key] = ms
            print(f"diff_embed peers={P} {'bf16' if bf else 'f32'} storage: {ms:.3f} ms")
    for H in (2048, 3584):
        for bf in (False, True):
            ms = timed(step_fn(H, bf, dev), a.runs)
            out[f"sae+proj fwd+bwd|B=16x16 d=1024 h=512 H={H}|{'bf16' if bf else 'f32'}"] = ms
            print(f"SAE+projectors fwd+bwd H={H} {'bf16 autocast' if bf else 'f32'}: {ms:.3f} ms")
    if a.json:
        json.dump(out, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
