#!/usr/bin/env bash
# Wall time of `dep embed` of the demo data through Slurm: one array task vs two (--shard auto, one CPU each),
# submit to last task done, plus the merge. Needs a cluster (tools/slurm-local.sh start) and a built dep.
#   tools/bench-slurm-embed.sh [USERS (default 30, the small demo)] [EMBEDDER (default use-lite, the demo's)]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
users="${1:-30}"
embedder="${2:-use-lite}"
dep=(node "$root/packages/cli/dist/bin.js")
work="$(mktemp -d "${TMPDIR:-/tmp}/dep-slurm-bench-XXXXXX")"
trap 'rm -rf "$work"' EXIT
"${dep[@]}" data synth --users "$users" --seed 42 --out "$work/data" >/dev/null

run() { # $1: shards
  local n=$1 out="$work/emb-$1" t0 t1
  cat >"$work/embed-$n.sbatch" <<EOS
#!/bin/bash
#SBATCH --cpus-per-task=1
#SBATCH --output=$work/embed-$n-%a.out
exec ${dep[*]} embed --data $work/data --embedder $embedder --out $out --shard auto --threads 1
EOS
  t0=$(date +%s%N)
  sbatch --quiet --wait --array=0-$((n - 1)) "$work/embed-$n.sbatch"
  "${dep[@]}" merge --out "$out" >/dev/null
  t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'
}

one=$(run 1)
two=$(run 2)
cmp "$work/emb-1/embeddings.safetensors" "$work/emb-2/embeddings.safetensors"
awk -v u="$users" -v e="$embedder" -v a="$one" -v b="$two" \
  'BEGIN { printf "users %s, %s: 1 shard %.1f s, 2 shards %.1f s (submit to merged), ratio 2/1 = %.2f\n", u, e, a, b, b / a }'
