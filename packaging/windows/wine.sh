#!/usr/bin/env bash
# A private Wine prefix for the Windows agent's tests (packaging/README.md, "Windows").
#
#   packaging/windows/wine.sh prefix         # make it (once; about 15 s) and keep its session up
#                                            # (`WINEPREFIX=… wineserver -k` ends it)
#   packaging/windows/wine.sh run EXE ARGS   # run a Windows program in it (the cargo runner)
#   packaging/windows/wine.sh shell ARGS     # wine ARGS in it (msiexec, net, sc, reg)
#   packaging/windows/wine.sh stop           # end its Wine session (every process in it)
#
# The prefix is TILSYN_WINEPREFIX (default: target/windows/wineprefix beside the build).
# Wine 8 lacks bcryptprimitives.dll!ProcessPrng, which Rust's std for Windows 10+ imports:
# the prefix gets a test-only shim DLL (shim/processprng.c) so the binary that ships is the
# binary that runs. No display is needed: the agent and msiexec /qn are console programs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export WINEPREFIX=${TILSYN_WINEPREFIX:-${TILSYN_WINDOWS_TARGET_DIR:-$root/target/windows}/wineprefix}
export WINEDEBUG=${WINEDEBUG:--all}
# No Mono or Gecko installer prompts; the shim before Wine's own DLL.
export WINEDLLOVERRIDES="mscoree=;mshtml=;bcryptprimitives=n,b"
export WINEARCH=win64

make_prefix() {
  local sys32=$WINEPREFIX/drive_c/windows/system32
  if [ ! -f "$WINEPREFIX/.tilsyn-ready" ]; then
    mkdir -p "$WINEPREFIX"
    wineboot --init >/dev/null 2>&1 || true
    wineserver --wait || true
    [ -d "$sys32" ] || { echo "wine.sh: wineboot did not make $WINEPREFIX" >&2; exit 1; }
    # Wine 8 presents itself as Windows 7 by default; the agent is built for 10 and later.
    wine winecfg /v win10 >/dev/null 2>&1 || true
    wineserver --wait || true
    touch "$WINEPREFIX/.tilsyn-ready"
  fi
  if [ ! -f "$sys32/bcryptprimitives.dll" ] || [ "$here/shim/processprng.c" -nt "$sys32/bcryptprimitives.dll" ]; then
    x86_64-w64-mingw32-gcc -O2 -shared -s -o "$sys32/bcryptprimitives.dll" \
      "$here/shim/processprng.c" "$here/shim/bcryptprimitives.def" -ladvapi32
  fi
}

# Keep the session alive: Wine ends its system processes, services included, a few
# seconds after the last ordinary Wine program exits. A persistent wineserver keeps the
# agent's service running between the commands of a test (`wineserver -k` ends it).
persist() { wineserver -p </dev/null >/dev/null 2>&1 || true; }

cmd=${1:-}
shift || true
case "$cmd" in
  prefix) persist; make_prefix; echo "$WINEPREFIX" ;;
  run) make_prefix; exec wine "$@" ;;
  shell) persist; make_prefix; exec wine "$@" ;;
  stop) wineserver -k 2>/dev/null || true ;;
  *) echo "usage: $0 prefix | run EXE [ARGS] | shell ARGS | stop" >&2; exit 2 ;;
esac
