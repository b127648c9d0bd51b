#!/usr/bin/env bash
# Agent footprint benchmark, side by side with Prometheus node_exporter (Debian package
# prometheus-node-exporter): steady-state RSS, CPU per health cycle, binary size.
#
#   tests/bench/agent-footprint.sh [SECONDS]
#
# The agent reports health every 5 s to a local collector; node_exporter is scraped every
# 5 s (what Prometheus would do). CPU is utime+stime from /proc over the run.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-120}
command -v prometheus-node-exporter >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-node-exporter >/dev/null; }
cargo build --release -q -p tilsyn-collector
cargo build --profile agent -q -p tilsyn-agent   # the agent's size-optimised release profile
dir=$(mktemp -d /tmp/tilsyn-foot.XXXXXX)
cat > "$dir/collector.yaml" <<YAML
data_dir: data
grpc: {listen: 127.0.0.1:18443}
http: {listen: 127.0.0.1:18480}
log: warn
departments: [{id: it, name: IT, tokens: [footprint-token-0000000]}]
settings: {defaults: {health_interval: 5s}}
YAML
cat > "$dir/agent.yaml" <<YAML
collector: {url: "https://127.0.0.1:18443", ca_file: data/tls/ca.pem}
enrollment: {token: footprint-token-0000000}
state_dir: agent
log: warn
YAML
./target/release/tilsyn-collector run --config "$dir/collector.yaml" & cpid=$!
prometheus-node-exporter --web.listen-address=127.0.0.1:19100 >/dev/null 2>&1 & npid=$!
trap 'kill $cpid $npid ${apid:-} 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do [ -s "$dir/data/tls/ca.pem" ] && break; sleep 0.1; done
./target/agent/tilsyn-agent run --config "$dir/agent.yaml" & apid=$!
sleep 20   # enrollment and the first full inventory/software/patch reports
# utime+stime of the process and of its waited-for children (the commands it runs).
cpu() { awk '{print $14+$15+$16+$17}' "/proc/$1/stat"; }
a0=$(cpu $apid); n0=$(cpu $npid)
end=$((SECONDS + secs)); scrapes=0
while [ $SECONDS -lt $end ]; do
  curl -s -o /dev/null http://127.0.0.1:19100/metrics; scrapes=$((scrapes + 1)); sleep 5
done
a1=$(cpu $apid); n1=$(cpu $npid)
tck=$(getconf CLK_TCK)
cycles=$((secs / 5))
rss() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
echo "run: $secs s, health every 5 s ($cycles cycles), node_exporter scraped $scrapes times"
echo "tilsyn-agent   RSS $(rss $apid) KiB, CPU $(( (a1 - a0) * 1000 / tck )) ms total, $(( (a1 - a0) * 1000 / tck / cycles )) ms per health cycle"
echo "node_exporter  RSS $(rss $npid) KiB, CPU $(( (n1 - n0) * 1000 / tck )) ms total, $(( (n1 - n0) * 1000 / tck / scrapes )) ms per scrape"
echo "binary: tilsyn-agent $(stat -c %s target/agent/tilsyn-agent) bytes (stripped), node_exporter $(stat -c %s "$(command -v prometheus-node-exporter)") bytes"
