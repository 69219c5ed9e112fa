#!/usr/bin/env bash
# A CUDA 13.0 build toolchain from NVIDIA's PyPI wheels, for building `--features cuda` on a
# machine with no GPU and no CUDA installed (this project's build machines).
#
#   scripts/cuda-toolchain.sh            # install (idempotent), then print the environment
#   eval "$(scripts/cuda-toolchain.sh)"  # ...and use it in this shell
#
# Why wheels: they come from PyPI (reachable where NVIDIA's apt repositories are not), need no
# root, and pin the exact toolkit release. Why 13.0: the lent H200 machines run driver 580,
# which loads PTX up to ISA 9.0 (CUDA 13.0); a newer nvcc would emit PTX that driver refuses.
#
# What is installed into $CHRONOSEEK_CUDA_HOME (default ~/.cache/chronoseek-cuda, ~1.3 GB):
#   - nvcc, ptxas, cicc and the CUDA headers (candle-kernels compiles its .cu files at build
#     time; CCCL for the headers its kernels include);
#   - cuBLAS, cuBLASLt, cuRAND, NVRTC and the CUDA runtime, *for linking only*: candle links them
#     dynamically (cudarc's `dynamic-linking`), and the machine that runs the binary brings its
#     own copies (the lent GPU machine has them in its Python site-packages; gpu-check.sh finds
#     them there);
#   - a link-time stub of the driver library libcuda.so (the symbols of cuda.h, no code): the
#     driver exists only where a GPU is, and the binary loads the real libcuda.so.1 there.
#
# Nothing here runs in CI or `make test`: CI stays CPU-only.
set -euo pipefail

home=${CHRONOSEEK_CUDA_HOME:-$HOME/.cache/chronoseek-cuda}
compute_cap=${CUDA_COMPUTE_CAP:-90}   # H100/H200; set CUDA_COMPUTE_CAP for another GPU

# Versions of one CUDA release (13.0 update 2) that work with driver 580.
wheels=(
  nvidia-cuda-nvcc==13.0.88
  nvidia-nvvm==13.0.88
  nvidia-cuda-crt==13.0.88
  nvidia-cuda-runtime==13.0.96
  nvidia-cuda-nvrtc==13.0.88
  nvidia-cuda-cccl==13.0.85
  nvidia-cublas==13.0.2.14
  nvidia-curand==10.4.0.35
)

log() { echo "cuda-toolchain: $*" >&2; }

if [ ! -x "$home/venv/bin/pip" ]; then
  log "creating $home/venv"
  python3 -m venv "$home/venv" >&2
fi
stamp="$home/installed.txt"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "${wheels[*]}" ]; then
  log "installing ${wheels[*]} (about 1.3 GB)"
  "$home/venv/bin/pip" install -q --disable-pip-version-check "${wheels[@]}" >&2
  echo "${wheels[*]}" >"$stamp"
fi

root=$("$home/venv/bin/python" -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13"))')
[ -x "$root/bin/nvcc" ] || { log "no nvcc under $root"; exit 1; }

# Unversioned names for the linker (the wheels ship only the sonames).
for lib in cublas.so.13 cublasLt.so.13 cudart.so.13 curand.so.10 nvrtc.so.13; do
  ln -sfn "lib$lib" "$root/lib/lib${lib%.so.*}.so"
done

# libcuda.so stub: every cu* function name cuda.h declares, before and after its versioning
# macros (cuMemAlloc and cuMemAlloc_v2), as empty functions under the driver's soname.
if [ ! -f "$root/lib/libcuda.so" ] || [ "$root/include/cuda.h" -nt "$root/lib/libcuda.so" ]; then
  stub=$(mktemp -d)
  {
    gcc -E -P -I "$root/include" "$root/include/cuda.h"
    cat "$root/include/cuda.h"
  } | grep -oE '\bcu[A-Z][A-Za-z0-9_]*[[:space:]]*\(' | tr -d '( \t' | sort -u \
    | sed 's/.*/void &(void) {}/' >"$stub/cuda_stub.c"
  gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$root/lib/libcuda.so" "$stub/cuda_stub.c"
  log "libcuda.so stub: $(wc -l <"$stub/cuda_stub.c") symbols"
  rm -rf "$stub"
fi

version=$("$root/bin/nvcc" --version | sed -n 's/.*release \([0-9.]*\),.*/\1/p')
log "nvcc $version at $root/bin/nvcc; kernels for sm_$compute_cap"

# The environment candle-kernels (cudaforge) and cudarc read.
cat <<EOF
export CUDA_ROOT='$root'
export CUDA_PATH='$root'
export PATH='$root/bin':"\$PATH"
export CUDA_COMPUTE_CAP=$compute_cap
export CUDARC_CUDA_VERSION=${version/./0}0
export LIBRARY_PATH='$root/lib'\${LIBRARY_PATH:+:\$LIBRARY_PATH}
EOF
