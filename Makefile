# The two commands of the README: `make demo` and `make test`. Each installs what it needs
# (Debian packages, idempotently) and builds with the target directory outside the clone so
# rebuilds in fresh clones reuse it.

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/chronoseek-target
CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Build-time: FFmpeg headers (ffmpeg-next), libclang (bindgen), protoc and its well-known
# types (LanceDB). Run-time and tests: the FFmpeg libraries and command-line tool; Python
# venvs for the timelock golden test (bittensor-drand from PyPI decrypts our commits); the
# time zone database (`--tz`, the page's zone for recording dates).
# `make test` also needs headless Chromium (the library page's browser test) and a font.
DEB_PACKAGES := build-essential pkg-config clang libclang-dev protobuf-compiler libprotobuf-dev \
	libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev \
	libavfilter-dev libavdevice-dev ffmpeg ca-certificates curl python3 python3-venv tzdata

.PHONY: deps rust demo test build release bench fixtures fmt lint cuda cuda-miner gpu-check

deps:
	@missing=$$(for p in $(DEB_PACKAGES) $(TEST_DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@$(MAKE) --no-print-directory rust

# Debian's rustc is too old for LanceDB (1.94+); use rustup's stable toolchain.
rust:
	@if ! command -v $(CARGO) >/dev/null 2>&1; then \
		if [ -x "$(HOME)/.cargo/bin/cargo" ]; then echo "add ~/.cargo/bin to PATH"; exit 1; fi; \
		echo "installing Rust with rustup"; \
		curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal; \
		echo "Rust installed: run 'source ~/.cargo/env' then this command again"; exit 1; \
	fi

build: deps
	$(CARGO) build --locked

release: deps
	$(CARGO) build --locked --release

# Offline demo: fixture videos, bundled/offline model, a fresh temporary store. Built exactly
# as `make test` builds (debug, numeric crates optimised, dev-dependency features unified) so
# the two commands share one build instead of compiling LanceDB twice.
demo: deps
	$(CARGO) build --locked --tests --quiet
	"$(CARGO_TARGET_DIR)/debug/chronoseek" demo

test: TEST_DEB_PACKAGES := chromium fonts-dejavu-core
test: deps
	@# The GPU benchmark's crates on their own (what `make cuda` builds): the workspace's unified
	@# features can hide a dependency that does not compile alone (about 40 s).
	$(CARGO) check --locked -p chronoseek-embed-bench
	$(CARGO) test --locked --workspace --no-fail-fast

bench: deps
	$(CARGO) bench --locked

fixtures:
	./scripts/make-fixtures.sh

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

# CUDA builds: never part of `make test` or CI (CPU-only). scripts/cuda-toolchain.sh installs
# nvcc and the CUDA libraries to link against from NVIDIA's PyPI wheels (no root, ~1.3 GB in
# ~/.cache/chronoseek-cuda); kernels are built for CUDA_COMPUTE_CAP (default 90: H100/H200).
# `make cuda` builds the embedding benchmark that travels to a GPU machine and stages it, stripped
# and gzipped (57 MB -> 15 MB), in .gpu/ (what scripts/gpu-check.sh runs there); `make cuda-miner` builds the whole chronoseek
# binary with `--device cuda:N` (it also needs FFmpeg's libraries where it runs).
cuda: deps
	eval "$$(scripts/cuda-toolchain.sh)" && \
		$(CARGO) build --locked --release -p chronoseek-embed-bench --features cuda
	mkdir -p .gpu && strip -o .gpu/chronoseek-embed-bench "$(CARGO_TARGET_DIR)/release/chronoseek-embed-bench" && \
		gzip -9f .gpu/chronoseek-embed-bench
	@ls -l .gpu/chronoseek-embed-bench.gz

cuda-miner: deps
	eval "$$(scripts/cuda-toolchain.sh)" && $(CARGO) build --locked --release --features cuda

# The GPU check on this machine (CPU fallback when it has no GPU); on a lent GPU machine run
# scripts/gpu-check.sh there with .gpu/ carried (README, "Running on a GPU").
gpu-check:
	$(CARGO) build --locked --release -p chronoseek-embed-bench
	scripts/gpu-check.sh --bin "$(CARGO_TARGET_DIR)/release/chronoseek-embed-bench"
