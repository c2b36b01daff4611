#!/usr/bin/env bash
# Packs build/bin/bench_engine with the shared libraries it loads beyond glibc (oneDNN, OpenMP, libstdc++ and
# oneDNN's own dependencies) into build/engine-bench/, for a machine with neither Node nor Debian's packages
# (a GPU box's host CPU, where the AMX figures of issue 15 can be measured): carry that folder there and run
# scripts/engine-bench-device.sh. Run after `pnpm build` (or `node scripts/build-native.mjs`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/build/bin/bench_engine"
out="$root/build/engine-bench"
[ -x "$bin" ] || { echo "engine-bench-bundle: $bin is missing: run pnpm build first" >&2; exit 1; }

rm -rf "$out.part" && mkdir -p "$out.part/lib"
cp "$bin" "$out.part/"
# every resolved library but glibc's own (libc, libm, the loader, vdso): those come from the target machine
ldd "$bin" | awk '$3 ~ /^\// { print $3 }' | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so.*|libm.so.*|ld-linux*|libpthread.so.*|libdl.so.*|librt.so.*) ;;
    *) cp -L "$lib" "$out.part/lib/" ;;
  esac
done
rm -rf "$out" && mv "$out.part" "$out"
echo "engine-bench-bundle: $(du -sh "$out" | cut -f1) in $out:"
ls -l "$out" "$out/lib" | sed 's/^/  /'
