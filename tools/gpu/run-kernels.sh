#!/usr/bin/env bash
# DEP kernels on a CUDA machine (issue 3). Needs nvcc, CMake, a C++17 compiler and PyTorch; no Node, no
# network. From the repository root:
#   tools/gpu/run-kernels.sh            # build, test, bench, PyTorch eager comparison; prints tables
# Env: BUILD_DIR (default /tmp/dep-kernels-gpu), CUDA_ARCH (default: the device's, e.g. 90), RUNS (20),
#      OUT (a folder: also write bench.json, torch.json and the logs there).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-/tmp/dep-kernels-gpu}"
RUNS="${RUNS:-20}"
OUT="${OUT:-}"
if [[ -z "${CUDA_ARCH:-}" ]]; then
  CUDA_ARCH="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '.' || true)"
  CUDA_ARCH="${CUDA_ARCH:-80;90}"
fi
JOBS="$(nproc 2>/dev/null || echo 4)"
log() { printf '\n== %s\n' "$*"; }

log "GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo unknown)"
log "configure (kernels only, CUDA arch ${CUDA_ARCH})"
cmake -S "$ROOT/packages/native-cuda" -B "$BUILD_DIR" -DDEP_KERNELS_ONLY=ON -DDEP_CUDA=ON \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="$CUDA_ARCH" > "$BUILD_DIR.configure.log" 2>&1 \
  || { cat "$BUILD_DIR.configure.log"; exit 1; }
log "build"
cmake --build "$BUILD_DIR" --target test_kernels test_kernels_cuda bench_kernels -j"$JOBS" 2>&1 | tail -3

log "tests (ctest: CPU ISAs + CUDA vs reference, F32 1e-5 and BF16 tensor cores 2e-2)"
ctest --test-dir "$BUILD_DIR" --output-on-failure -R test_kernels || true
"$BUILD_DIR/bin/test_kernels_cuda" | tail -40 || true

log "bench_kernels (CPU threads = $JOBS; cuda rows are device-resident)"
"$BUILD_DIR/bin/bench_kernels" --threads "$JOBS" --runs "$RUNS" | tee "$BUILD_DIR/bench.txt"
"$BUILD_DIR/bin/bench_kernels" --threads "$JOBS" --runs "$RUNS" --json > "$BUILD_DIR/bench.json"

log "PyTorch eager, same step, same GPU"
python3 "$ROOT/tools/gpu/torch_step.py" --runs "$RUNS" --json "$BUILD_DIR/torch.json" | tee "$BUILD_DIR/torch.txt"

log "comparison"
python3 - "$BUILD_DIR/bench.json" "$BUILD_DIR/torch.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1])); t = json.load(open(sys.argv[2]))
print(f"device copy bandwidth (ours, cudaMemcpy D2D): {b.get('device_copy_gbs', 0):.0f} GB/s")
print(f"| {'kernel':<18} | {'shape':<30} | {'ours':<10} | {'ms':>8} | {'torch ms':>8} | {'speed-up':>8} | {'of copy bw':>10} |")
print("|" + "|".join("-" * (w + 2) for w in (18, 30, 10, 8, 8, 8, 10)) + "|")
for r in b["rows"]:
    if not r["backend"].startswith("cuda"):
        continue
    kind = "bf16" if ("bf16" in r["backend"] or r["shape"].endswith("bf16")) else "f32"
    key = f"{r['kernel']}|{r['shape']}|{kind}"
    tm = t.get(key)
    sp = f"{tm / r['median_ms']:.2f}x" if tm else "-"
    frac = f"{100 * r['fraction_of_copy']:.0f}%" if r["unit"] == "GB/s" else "-"
    print(f"| {r['kernel']:<18} | {r['shape']:<30} | {r['backend']:<10} | {r['median_ms']:8.3f} | "
          f"{(f'{tm:8.3f}' if tm else '       -')} | {sp:>8} | {frac:>10} |")
print("targets: diff_embed >= 70% of copy bandwidth; SAE+projector step >= 1.5x PyTorch eager")
PY
if [[ -n "$OUT" ]]; then
  mkdir -p "$OUT"
  cp "$BUILD_DIR"/bench.* "$BUILD_DIR"/torch.* "$OUT"/ 2>/dev/null || true
fi
