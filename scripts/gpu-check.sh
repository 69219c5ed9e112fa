#!/usr/bin/env bash
# What a GPU machine offers, and how fast ChronoSeek's CLIP image tower embeds on it.
#
#   scripts/gpu-check.sh [--bin PATH] [--out DIR] [--cpu] [-- BENCH ARGS...]
#
# 1. prints the GPU (nvidia-smi: name, driver, compute capability, memory);
# 2. finds the CUDA libraries the binary links (cuBLAS, cuBLASLt, cuRAND, NVRTC, the runtime)
#    on the system or in Python's nvidia-* wheels, and says which are missing;
# 3. runs chronoseek-embed-bench (built by `make cuda`): ViT-B/32-shaped checkpoint generated on
#    the spot, f32/f16/bf16 at batch 32/128/512, f16/bf16 agreement with f32;
# 4. writes DIR/gpu-check.json (machine, libraries, the bench's report) and DIR/bench.log.
#
# Without a GPU (or with --cpu) it runs the CPU fallback: a tiny checkpoint and short timings,
# so the script and the binary can be checked anywhere (tests/gpu_check.rs does).
# Exit status: 0 measured; 3 libraries missing; 4 the bench failed; 2 bad usage.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
bin=${CHRONOSEEK_EMBED_BENCH:-}
out=${OUT:-$here/target/gpu-check}
force_cpu=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --cpu) force_cpu=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "$bin" ]; then
  for c in "$here/.gpu/chronoseek-embed-bench.gz" "${CARGO_TARGET_DIR:-$here/target}/release/chronoseek-embed-bench"; do
    [ -f "$c" ] && { bin=$c; break; }
  done
fi
[ -n "$bin" ] && [ -f "$bin" ] || { echo "gpu-check: no chronoseek-embed-bench binary (make cuda, or --bin PATH)" >&2; exit 2; }
mkdir -p "$out"
# `make cuda` stages the binary gzipped (57 MB -> 15 MB: most of it is PTX text), so that it
# fits what travels to a GPU machine.
case "$bin" in
  *.gz)
    unpacked=$(mktemp -d)/chronoseek-embed-bench
    gzip -dc "$bin" >"$unpacked" && chmod +x "$unpacked" || { echo "gpu-check: cannot unpack $bin" >&2; exit 2; }
    bin=$unpacked ;;
esac
[ -x "$bin" ] || { echo "gpu-check: $bin is not executable" >&2; exit 2; }
log=$out/bench.log
machine=$out/machine.json

echo "== machine"
uname -srm
gpu_json='null'
if [ "$force_cpu" = 0 ] && command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  q=$(nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv,noheader | head -1)
  echo "GPU: $q"
  cuda=$(nvidia-smi | sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' | head -1)
  echo "driver's CUDA version: ${cuda:-unknown}"
  IFS=',' read -r name driver cap mem <<<"$q"
  gpu_json=$(printf '{"name":"%s","driver":"%s","compute_capability":"%s","memory":"%s","driver_cuda":"%s"}' \
    "$(echo $name)" "$(echo $driver)" "$(echo $cap)" "$(echo $mem)" "$cuda")
  mode=gpu
else
  echo "GPU: none found (nvidia-smi missing or lists no device): CPU fallback"
  mode=cpu
fi

echo "== CUDA libraries"
# Where a machine keeps them: the loader's cache, the driver's and CUDA's folders, Python's
# nvidia-* wheels (PyTorch's own), in that order. Found folders go on LD_LIBRARY_PATH for the bench.
dirs=()
for d in /usr/local/nvidia/lib64 /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
  [ -d "$d" ] && dirs+=("$d")
done
for py in python3 /opt/torch/.venv/bin/python3; do
  command -v "$py" >/dev/null 2>&1 || continue
  while IFS= read -r d; do [ -n "$d" ] && dirs+=("$d"); done < <("$py" - 2>/dev/null <<'EOF'
import glob, os, site, sys
roots = set(site.getsitepackages() + [site.getusersitepackages()] + [p for p in sys.path if p.endswith("-packages")])
for r in sorted(roots):
    for d in sorted(glob.glob(os.path.join(r, "nvidia", "**", "lib"), recursive=True)):
        print(d)
EOF
)
done
found=()
missing=()
needed=$(ldd "$bin" 2>/dev/null | awk '/=>/ {print $1}' | grep -E '^lib(cuda|cudart|cublas|cublasLt|curand|nvrtc)\.so' || true)
libpath=""
for lib in $needed; do
  where=$(ldconfig -p 2>/dev/null | awk -v l="$lib" '$1==l {print $NF; exit}')
  if [ -z "$where" ]; then
    for d in "${dirs[@]}"; do
      if [ -e "$d/$lib" ]; then where=$d/$lib; break; fi
    done
  fi
  if [ -n "$where" ]; then
    echo "$lib: $where"
    libpath="$libpath:$(dirname "$where")"
    found+=("\"$lib\":\"$where\"")
  else
    echo "$lib: MISSING"
    missing+=("$lib")
  fi
done
[ -z "$needed" ] && echo "(the binary links no CUDA library: a CPU build)"
export LD_LIBRARY_PATH="${libpath#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
join() { local IFS=,; echo "$*"; }
missing_json=""
for m in "${missing[@]}"; do missing_json="$missing_json${missing_json:+,}\"$m\""; done
printf '{"mode":"%s","gpu":%s,"libraries":{%s},"missing":[%s],"binary":"%s","binary_bytes":%s}\n' \
  "$mode" "$gpu_json" "$(join "${found[@]}")" "$missing_json" "$bin" "$(stat -c %s "$bin")" >"$machine"

status=0
if [ ${#missing[@]} -gt 0 ]; then
  echo "gpu-check: missing ${missing[*]}: the bench cannot start" >&2
  status=3
else
  echo "== bench"
  if [ "$mode" = gpu ]; then
    args=(--device cuda:0 --precision f32,f16,bf16 --batch 32,128,512 --seconds 3)
  else
    args=(--device cpu --shape tiny --precision f32,f16,bf16 --batch 8,32 --seconds 0.3 --text-runs 3)
  fi
  "$bin" "${args[@]}" "${extra[@]}" --json "$out/bench.json" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  [ "$rc" -ne 0 ] && { echo "gpu-check: the bench exited $rc" >&2; status=4; }
fi

# One report: the machine, the libraries, and the bench's own JSON.
bench=$(cat "$out/bench.json" 2>/dev/null || echo null)
printf '{"machine":%s,"status":%s,"bench":%s}\n' "$(cat "$machine")" "$status" "$bench" >"$out/gpu-check.json"
echo "report: $out/gpu-check.json (status $status)"
exit $status
