#!/usr/bin/env bash
# Installs what building keyorch needs on a Debian 12 machine, and nothing when
# it is all there already (idempotent). See ../shared/TOOLCHAIN.md for why.
#
# Two supported toolchains:
#   * a rustup toolchain that already has the `wasm32v1-none` target and
#     `rust-src` (nothing to install but protoc/clang-free deps), or
#   * Debian's rustc-web/cargo-web 1.96 under /usr/bin, for which this script
#     builds the wasm32v1-none core/alloc once and installs them in its sysroot.
#
# Prints, as its last line, the `cargo` to use; `scripts/env.sh` sources this
# choice for the other scripts.
set -euo pipefail

log() { printf '[setup] %s\n' "$*" >&2; }

need_apt=()
command -v protoc >/dev/null 2>&1 || need_apt+=(protobuf-compiler)


rustup_has_wasm() {
  command -v rustup >/dev/null 2>&1 || return 1
  rustup target list --installed 2>/dev/null | grep -qx wasm32v1-none || return 1
  rustup component list --installed 2>/dev/null | grep -q '^rust-src' || return 1
}

if rustup_has_wasm; then
  toolchain=rustup
else
  toolchain=debian
  [ -x /usr/bin/cargo ] || need_apt+=(cargo-web)
  [ -x /usr/bin/rustc ] || need_apt+=(rustc-web)
  if ! [ -x /usr/bin/rustc ] || ! [ -d "$(/usr/bin/rustc --print sysroot)/lib/rustlib/src/rust/library" ]; then
    need_apt+=(rust-web-src)
  fi
  command -v lld-22 >/dev/null 2>&1 || [ -x /usr/bin/lld-22 ] || need_apt+=(lld-22)
  [ -x /usr/bin/cargo-clippy ] || need_apt+=(rust-web-clippy)
fi

if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing Debian packages: ${need_apt[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    log "not root: run 'sudo apt-get install -y ${need_apt[*]}' and try again"
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ "$toolchain" = debian ]; then
  sysroot=$(/usr/bin/rustc --print sysroot)
  wasm_lib="$sysroot/lib/rustlib/wasm32v1-none/lib"
  if ! ls "$wasm_lib"/libcore-*.rlib >/dev/null 2>&1; then
    log "building core/alloc for wasm32v1-none (once, about a minute)"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/src"
    cat >"$work/Cargo.toml" <<'TOML'
[package]
name = "wasm-sysroot"
version = "0.0.0"
edition = "2021"
[lib]
crate-type = ["cdylib"]
[profile.release]
panic = "abort"
TOML
    cat >"$work/src/lib.rs" <<'RS'
#![no_std]
extern crate alloc;
struct Bump;
unsafe impl core::alloc::GlobalAlloc for Bump {
    unsafe fn alloc(&self, _: core::alloc::Layout) -> *mut u8 { core::ptr::null_mut() }
    unsafe fn dealloc(&self, _: *mut u8, _: core::alloc::Layout) {}
}
#[global_allocator]
static A: Bump = Bump;
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! { loop {} }
#[no_mangle]
pub extern "C" fn touch() -> usize { alloc::vec![1u8].len() }
RS
    (cd "$work" && PATH="/usr/bin:$PATH" RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Cembed-bitcode=yes" \
      CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_TARGET_DIR="$work/target" \
      /usr/bin/cargo build -q --release --target wasm32v1-none -Zbuild-std=core,alloc)
    mkdir -p "$wasm_lib"
    cp "$work"/target/wasm32v1-none/release/deps/lib{core,alloc,compiler_builtins}-*.rlib "$wasm_lib/"
    log "installed wasm32v1-none core/alloc into $wasm_lib"
  fi
  if ! command -v rust-lld >/dev/null 2>&1 && ! [ -e "$sysroot/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld" ]; then
    ln -sf "$(command -v lld-22 || echo /usr/bin/lld-22)" /usr/local/bin/rust-lld
    log "linked rust-lld -> lld-22"
  fi
fi

# The agent's test validates its OpenAPI document with PyPI's openapi-spec-validator, in a venv
# of its own (Debian's python3 refuses pip installs). Best effort: without it (no network, no
# venv module) the test says it skipped the validation.
python_env="$HOME/.cache/keyorch/python"
if ! [ -x "$python_env/bin/python3" ] && command -v python3 >/dev/null 2>&1; then
  if python3 -m venv "$python_env" >/dev/null 2>&1 &&
    "$python_env/bin/pip" install -q 'openapi-spec-validator==0.9.*' >/dev/null 2>&1; then
    log "made $python_env with openapi-spec-validator"
  else
    rm -rf "$python_env"
    log "no Python venv with openapi-spec-validator: the agent's OpenAPI check will be skipped"
  fi
fi

log "toolchain ready ($toolchain)"
echo "$toolchain"
