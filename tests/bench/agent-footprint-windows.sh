#!/usr/bin/env bash
# The Windows agent's footprint under Wine beside the Linux agent on the same machine:
# RSS, CPU per health cycle, and what each probe costs (the agent's own "probe done ms="
# debug lines: one read of Windows' facts through the APIs, against the same probe on
# Linux). Wine adds its own cost (its loader, and wineserver and services.exe beside the
# agent, reported apart): on a real PC the Windows figure is the agent's alone.
#
#   packaging/windows/build.sh && tests/bench/agent-footprint-windows.sh [SECONDS]
#   SMOKE=1 tests/bench/agent-footprint-windows.sh      # 10 s; run by .ci/run
#
# Both agents report health every 5 s to one local collector (release builds: the Linux
# agent's `agent` profile and target/windows/dist/tilsyn-agent.exe; in smoke mode the
# Linux debug build). CPU is utime+stime from /proc over the run, after a warm-up.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
# shellcheck source=SCRIPTDIR/common.sh
. tests/bench/common.sh
if smoke; then secs=${1:-10}; else secs=${1:-120}; fi
bench_bins agent-profile
exe=${TILSYN_WINDOWS_TARGET_DIR:-$root/target/windows}/dist/tilsyn-agent.exe
[ -f "$exe" ] || { echo "$exe missing: run packaging/windows/build.sh" >&2; exit 1; }
grpc=127.0.0.1:$(bench_port BENCH_GRPC_PORT 18543)
http=127.0.0.1:$(bench_port BENCH_HTTP_PORT 18580)
dir=$(mktemp -d /tmp/tilsyn-winfoot.XXXXXX)
export TILSYN_WINEPREFIX=$dir/prefix
cleanup() {
  set +e
  kill ${cpid:-} ${lpid:-} 2>/dev/null
  [ -z "${wpid:-}" ] || kill "$wpid" 2>/dev/null
  WINEPREFIX=$TILSYN_WINEPREFIX wineserver -k 2>/dev/null
  wait 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
cat > "$dir/collector.yaml" <<YAML
data_dir: data
grpc: {listen: $grpc}
http: {listen: $http}
log: warn
compliance: {standards_dir: '$root/configs/standards'}
departments: [{id: it, name: IT, tokens: [footprint-token-0000000]}]
settings: {defaults: {health_interval: 5s}}
YAML
agent_yaml() {
  cat <<YAML
collector: {url: "https://$grpc", ca_file: '$1'}
enrollment: {token: footprint-token-0000000}
state_dir: '$2'
log: warn,tilsyn_agent::probes=debug
YAML
}
agent_yaml "$dir/data/tls/ca.pem" "$dir/linux-agent" > "$dir/linux.yaml"
agent_yaml "Z:${dir//\//\\}\\data\\tls\\ca.pem" "Z:${dir//\//\\}\\windows-agent" > "$dir/windows.yaml"
"$collector_bin" run --config "$dir/collector.yaml" & cpid=$!
wait_ca "$dir"
packaging/windows/wine.sh prefix >/dev/null
NO_COLOR=1 "$agent_bin" run --config "$dir/linux.yaml" 2>"$dir/linux.log" & lpid=$!
NO_COLOR=1 packaging/windows/wine.sh run "$exe" run --config "Z:${dir//\//\\}\\windows.yaml" 2>"$dir/windows.log" &
wpid=''
for _ in $(seq 1 300); do
  wpid=$(pgrep -f 'tilsyn-agent.exe run --config' | head -1 || true)
  [ -n "$wpid" ] && break
  sleep 0.1
done
[ -n "$wpid" ] || { echo "the Windows agent did not start under Wine" >&2; exit 1; }
online() { [ "$(curl -s "http://$http/api/v1/hosts" | grep -o '"state":"online"' | wc -l)" -ge 2 ]; }
for _ in $(seq 1 600); do online && break; sleep 0.1; done
online || { echo "the two agents are not both online at the collector" >&2; tail -5 "$dir/windows.log" >&2; exit 1; }
if smoke; then sleep 1; else sleep 20; fi
alive() { for p in "$@"; do kill -0 "$p" 2>/dev/null || { echo "process $p exited early" >&2; exit 1; }; done; }
alive "$lpid" "$wpid" "$cpid"
cpu() { awk '{print $14+$15+$16+$17}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
# Wine's own processes for this prefix: wineserver, services.exe and the services it runs.
wine_pids() { pgrep -f 'wineserver|services.exe|winedevice.exe|plugplay.exe|svchost.exe|rpcss.exe|explorer.exe' | tr '\n' ' '; }
l0=$(cpu "$lpid"); w0=$(cpu "$wpid")
sleep "$secs"
alive "$lpid" "$wpid"
l1=$(cpu "$lpid"); w1=$(cpu "$wpid")
tck=$(getconf CLK_TCK)
cycles=$((secs / 5)); [ $cycles -gt 0 ] || cycles=1
wine_rss=0
for p in $(wine_pids); do r=$(rss "$p" 2>/dev/null || echo 0); wine_rss=$((wine_rss + ${r:-0})); done
# Median probe times from the debug lines (the first cycle included).
probe_ms() {
  local log=$1 probe=$2
  sed 's/\x1b\[[0-9;]*m//g' "$log" | grep "probe done" | grep "probe=\"$probe\"" \
    | sed -E 's/.* ms=([0-9]+).*/\1/' | sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "-"}'
}
echo "run: $secs s, health every 5 s ($cycles cycles)"
echo "linux agent    RSS $(rss "$lpid") KiB, CPU $(( (l1 - l0) * 1000 / tck )) ms total, $(( (l1 - l0) * 1000 / tck / cycles )) ms per health cycle"
echo "windows agent  RSS $(rss "$wpid") KiB under Wine, CPU $(( (w1 - w0) * 1000 / tck )) ms total, $(( (w1 - w0) * 1000 / tck / cycles )) ms per health cycle"
echo "wine's own processes: RSS $wine_rss KiB (wineserver, services.exe, …; not on a real PC)"
for p in inventory software patches health facts; do
  echo "probe $p: linux $(probe_ms "$dir/linux.log" $p) ms, windows under Wine $(probe_ms "$dir/windows.log" $p) ms (median)"
done
echo "binary: tilsyn-agent.exe $(stat -c %s "$exe") bytes stripped, linux tilsyn-agent $(stat -L -c %s "$agent_bin") bytes"
