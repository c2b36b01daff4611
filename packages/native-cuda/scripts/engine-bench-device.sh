#!/usr/bin/env bash
# The training engine's figures on a machine with neither Node nor Debian's packages (the GPU box's host
# CPU: there the AMX figures of issue 15 can be measured), from the folder scripts/engine-bench-bundle.sh
# made, on a synthetic TinyLlama-shaped model; with PyTorch's step on the same shapes in the same run
# (bench/torch_step.py) where PyTorch is installed. Run from the repository root, carrying the bundle:
#   device run, carry ["packages/native-cuda/build/engine-bench"]:
#     bash packages/native-cuda/scripts/engine-bench-device.sh
# Environment: THREADS (default "2 16": each count a table), POSITIONS (default 384,1024,3072; F32 and
# PyTorch's F32 run at the first only, to fit a device call). Tables on stdout, JSON in $OUT (or ./out).
set -uo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bundle="$here/build/engine-bench"
out="${OUT:-$PWD/out}"
positions="${POSITIONS:-384,1024,3072}"
first="${positions%%,*}"
mkdir -p "$out"
[ -x "$bundle/bench_engine" ] || { echo "no bundle at $bundle: run scripts/engine-bench-bundle.sh and carry it" >&2; exit 1; }
export LD_LIBRARY_PATH="$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

echo "== $(grep -m1 'model name' /proc/cpuinfo) ($(nproc) cores); matrix units: $(grep -m1 -o 'amx_[a-z0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' ')"
model=/tmp/dep-synthetic-tinyllama.gguf
status=0
for t in ${THREADS:-2 16}; do
  echo "== native engine, $t threads"
  args=(--threads "$t" --json)
  if [ -f "$model" ]; then args+=(--model "$model"); else args+=(--synthetic tinyllama --synthetic-file "$model"); fi
  "$bundle/bench_engine" "${args[@]}" --dtypes bf16 --positions "$positions" >"$out/engine-bf16-${t}t.json" || status=1
  "$bundle/bench_engine" --threads "$t" --model "$model" --dtypes f32 --positions "$first" --json >"$out/engine-f32-${t}t.json" || status=1
  cat "$out/engine-bf16-${t}t.json" "$out/engine-f32-${t}t.json"
  if python3 -c 'import torch' 2>/dev/null; then
    echo "== PyTorch, $t threads"
    python3 "$here/bench/torch_step.py" --threads "$t" --dtypes bf16 --positions "$positions" --json >"$out/torch-bf16-${t}t.json" || status=1
    python3 "$here/bench/torch_step.py" --threads "$t" --dtypes f32 --positions "$first" --json >"$out/torch-f32-${t}t.json" || status=1
    cat "$out/torch-bf16-${t}t.json" "$out/torch-f32-${t}t.json"
  fi
done
rm -f "$model"
exit $status
