#!/usr/bin/env bash
# Agent footprint benchmark, side by side with Prometheus node_exporter (Debian package
# prometheus-node-exporter): steady-state RSS, CPU per health cycle, binary size.
#
#   tests/bench/agent-footprint.sh [SECONDS]
#   SMOKE=1 [BIN_DIR=DIR] [BENCH_GRPC_PORT=p] [BENCH_HTTP_PORT=p] [BENCH_EXPORTER_PORT=p] \
#     tests/bench/agent-footprint.sh [SECONDS]
#
# The agent reports health every 5 s to a local collector; node_exporter is scraped every
# 5 s (what Prometheus would do). CPU is utime+stime from /proc over the run.
#
# Smoke mode (SMOKE=1; see common.sh): SECONDS defaults to 5 (one health cycle) after the
# agent is online instead of a 20 s warm-up, free ports, debug binaries (or BIN_DIR), and
# node_exporter must already be installed (it is not installed from here). Ports default
# to 18443 (gRPC), 18480 (HTTP) and 19100 (node_exporter).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=SCRIPTDIR/common.sh
. tests/bench/common.sh
if smoke; then secs=${1:-5}; else secs=${1:-120}; fi
if ! command -v prometheus-node-exporter >/dev/null; then
  if smoke; then
    echo "prometheus-node-exporter is not installed: apt-get install prometheus-node-exporter" >&2
    exit 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-node-exporter >/dev/null
fi
bench_bins agent-profile
grpc=127.0.0.1:$(bench_port BENCH_GRPC_PORT 18443)
http=127.0.0.1:$(bench_port BENCH_HTTP_PORT 18480)
exporter=127.0.0.1:$(bench_port BENCH_EXPORTER_PORT 19100)
dir=$(mktemp -d /tmp/tilsyn-foot.XXXXXX)
trap 'set +e; kill ${cpid:-} ${npid:-} ${apid:-} 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
cat > "$dir/collector.yaml" <<YAML
data_dir: data
grpc: {listen: $grpc}
http: {listen: $http}
log: warn
compliance: {standards_dir: '$PWD/configs/standards'}
departments: [{id: it, name: IT, tokens: [footprint-token-0000000]}]
settings: {defaults: {health_interval: 5s}}
YAML
cat > "$dir/agent.yaml" <<YAML
collector: {url: "https://$grpc", ca_file: data/tls/ca.pem}
enrollment: {token: footprint-token-0000000}
state_dir: agent
log: warn
YAML
"$collector_bin" run --config "$dir/collector.yaml" & cpid=$!
prometheus-node-exporter --web.listen-address="$exporter" >/dev/null 2>&1 & npid=$!
wait_ca "$dir"
"$agent_bin" run --config "$dir/agent.yaml" & apid=$!
online() { [[ $(curl -s "http://$http/api/v1/hosts") == *'"state":"online"'* ]]; }
if smoke; then
  for _ in $(seq 1 300); do online && break; sleep 0.1; done
  sleep 1   # its first inventory/software/patch reports
else
  sleep 20   # enrollment and the first full inventory/software/patch reports
fi
online || { echo "the agent is not online at the collector" >&2; exit 1; }
alive() { for p in "$@"; do kill -0 "$p" 2>/dev/null || { echo "process $p exited early" >&2; exit 1; }; done; }
alive $apid $npid $cpid
# utime+stime of the process and of its waited-for children (the commands it runs).
cpu() { awk '{print $14+$15+$16+$17}' "/proc/$1/stat"; }
a0=$(cpu $apid); n0=$(cpu $npid)
end=$((SECONDS + secs)); scrapes=0
while [ $SECONDS -lt $end ]; do
  curl -s -o /dev/null "http://$exporter/metrics"; scrapes=$((scrapes + 1)); sleep 5
done
alive $apid $npid
a1=$(cpu $apid); n1=$(cpu $npid)
tck=$(getconf CLK_TCK)
cycles=$((secs / 5))
[ $cycles -gt 0 ] || cycles=1
rss() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
stripped=stripped
if [ -n "${BIN_DIR:-}" ] || smoke; then stripped="from $(dirname "$agent_bin")"; fi
echo "run: $secs s, health every 5 s ($cycles cycles), node_exporter scraped $scrapes times"
echo "tilsyn-agent   RSS $(rss $apid) KiB, CPU $(( (a1 - a0) * 1000 / tck )) ms total, $(( (a1 - a0) * 1000 / tck / cycles )) ms per health cycle"
echo "node_exporter  RSS $(rss $npid) KiB, CPU $(( (n1 - n0) * 1000 / tck )) ms total, $(( (n1 - n0) * 1000 / tck / scrapes )) ms per scrape"
echo "binary: tilsyn-agent $(stat -L -c %s "$agent_bin") bytes ($stripped), node_exporter $(stat -c %s "$(command -v prometheus-node-exporter)") bytes"
