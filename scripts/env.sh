# Sourced by the other scripts: the toolchain and build settings keyorch needs.
# shellcheck shell=bash

# Debian's rustc-web (see scripts/setup.sh) lives in /usr/bin; a rustup toolchain with
# wasm32v1-none and rust-src is used as it is.
if ! { command -v rustup >/dev/null 2>&1 &&
	rustup target list --installed 2>/dev/null | grep -qx wasm32v1-none &&
	rustup component list --installed 2>/dev/null | grep -q '^rust-src'; }; then
	export PATH="/usr/bin:$PATH"
fi
# Rust >= 1.96 no longer lets the wasm linker leave the runtime's host-function imports undefined.
export WASM_BUILD_RUSTFLAGS="${WASM_BUILD_RUSTFLAGS:--C link-arg=--allow-undefined}"
# One target directory outside the clone, shared by builds, tests and CI, so a run after a
# change recompiles only what changed.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/keyorch/target}"
# With the target directory outside the workspace, the wasm builder must be told where the
# workspace (and its Cargo.lock) is.
WASM_BUILD_WORKSPACE_HINT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export WASM_BUILD_WORKSPACE_HINT
export KEYORCH_NODE_BIN="${KEYORCH_NODE_BIN:-$CARGO_TARGET_DIR/debug/keyorch-node}"
export KEYORCH_CLI_BIN="${KEYORCH_CLI_BIN:-$CARGO_TARGET_DIR/debug/keyorch}"
# The Python the tests run (scripts/setup.sh makes it, with openapi-spec-validator).
if [ -x "$HOME/.cache/keyorch/python/bin/python3" ]; then
	export KEYORCH_PYTHON="${KEYORCH_PYTHON:-$HOME/.cache/keyorch/python/bin/python3}"
fi
