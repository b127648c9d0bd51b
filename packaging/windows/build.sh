#!/usr/bin/env bash
# Builds the Windows agent on this Linux machine: tilsyn-agent.exe for x86_64 Windows 10/11
# and Server 2016+ (target x86_64-pc-windows-gnu), and its MSI (packaging/windows/agent.wxs,
# wixl). The same sources as the Linux agent; the Linux build keeps its normal toolchain.
#
#   packaging/windows/build.sh            # the exe and the MSI in target/windows/dist/
#   packaging/windows/build.sh --tests    # also clippy for Windows and the agent's unit tests under Wine
#
# How (packaging/README.md, "Windows"): rustup's toolchain here has only the Linux target,
# so the Windows standard library is built from Debian's rust-web-src with Debian's
# rustc-web (-Zbuild-std, RUSTC_BOOTSTRAP=1) and linked by mingw-w64 (.cargo/config.toml).
# TILSYN_WINDOWS_TARGET_DIR moves the build (CI keeps it in /var/cache/tilsyn-ci so the
# standard library is built once); the default is target/windows.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

tests=0
for a in "$@"; do
  case "$a" in
    --tests) tests=1 ;;
    *) echo "usage: $0 [--tests]" >&2; exit 2 ;;
  esac
done

# What a fresh Debian 12 lacks: the compiler whose std source is packaged, mingw-w64's
# linker, wixl (msitools alone lacks it) and, for the tests, Wine.
need=()
[ -x /usr/bin/rustc ] && /usr/bin/rustc --version | grep -q '^rustc 1\.9[6-9]' || need+=(rustc-web cargo-web)
[ -d /usr/lib/rustlib/src/rust/library ] || need+=(rust-web-src)
command -v x86_64-w64-mingw32-gcc >/dev/null || need+=(gcc-mingw-w64-x86-64)
command -v wixl >/dev/null || need+=(wixl)
if [ "$tests" = 1 ]; then
  command -v wine >/dev/null || need+=(wine wine64)
  [ -x /usr/bin/clippy-driver ] || need+=(rust-web-clippy)
fi
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

target_dir=${TILSYN_WINDOWS_TARGET_DIR:-$root/target/windows}
dist=$target_dir/dist
mkdir -p "$dist"
triple=x86_64-pc-windows-gnu
# rustup's cargo is fine; the compiler must be Debian's (its std source matches it).
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=$target_dir
build_std=(-Zbuild-std=std,panic_abort)

# The shipped binary: the agent's size-optimised profile (Cargo.toml [profile.agent]).
cargo build --locked -p tilsyn-agent --profile agent --target "$triple" "${build_std[@]}"
cp "$target_dir/$triple/agent/tilsyn-agent.exe" "$dist/tilsyn-agent.exe"
x86_64-w64-mingw32-strip "$dist/tilsyn-agent.exe"
echo "tilsyn-agent.exe: $(stat -c %s "$dist/tilsyn-agent.exe") bytes stripped"

# The MSI (wixl resolves File sources against the working directory: build in dist/).
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
msi() { (cd "$dist" && wixl -a x64 "$@" 2>&1 | { grep -v -e '^$' -e 'GLib-GObject-WARNING' || true; }); }
msi -D Version="$version" -o "tilsyn-agent-$version-x64.msi" "$root/packaging/windows/agent.wxs"
cp "$dist/tilsyn-agent-$version-x64.msi" "$dist/tilsyn-agent.msi"
echo "tilsyn-agent.msi: $(stat -c %s "$dist/tilsyn-agent.msi") bytes"
# For tests/windows/e2e.sh: the same agent as a newer version (a major upgrade), and a
# small program to install beside it. Neither ships.
IFS=. read -r major minor patch <<<"$version"
msi -D Version="$major.$minor.$((patch + 1))" -o tilsyn-agent-upgrade.msi "$root/packaging/windows/agent.wxs"
cp "$root/packaging/windows/testprogram.txt" "$dist/"
msi -o tilsyn-testprogram.msi "$root/packaging/windows/testprogram.wxs"

if [ "$tests" = 1 ]; then
  # The Windows-only code linted as the Linux code is (`cargo clippy -D warnings`), with
  # Debian's clippy that matches its compiler (rustup's cannot read the 1.96 std).
  PATH=/usr/bin:$PATH cargo clippy --locked -p tilsyn-agent --all-targets --target "$triple" \
    -Zbuild-std=std,test,panic_unwind -- -D warnings
  # The agent's unit tests for the Windows target, under Wine (packaging/windows/wine.sh
  # makes the private prefix and its ProcessPrng shim).
  export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$root/packaging/windows/wine.sh run"
  trap '"$root/packaging/windows/wine.sh" stop' EXIT   # no Wine processes left behind
  cargo test --locked -p tilsyn-agent --lib --target "$triple" -Zbuild-std=std,test,panic_unwind
fi
