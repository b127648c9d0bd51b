#!/usr/bin/env bash
# Quick start: build, then run the collector (shipped configs, embedded SQLite, TLS with a
# generated private CA) and an agent reporting this machine. Ctrl-C stops both.
#
#   ./packaging/quickstart.sh
#
# Then open the console at http://127.0.0.1:7480/ (the API under /api/v1, /metrics).
# Data (database, CA, agent identity and spool) lives in ./data; delete it to start over.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${PROFILE:-release}
flag=--release
[ "$profile" = debug ] && flag=
echo "building tilsyn-collector and tilsyn-agent ($profile)..."
cargo build $flag -p tilsyn-collector -p tilsyn-agent
bin=target/$profile

./$bin/tilsyn-collector validate --config configs/collector.yaml
./$bin/tilsyn-agent validate --config configs/agent.yaml

pids=()
cleanup() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

./$bin/tilsyn-collector run --config configs/collector.yaml &
pids+=($!)

# The agent trusts the CA the collector generates on its first start.
for _ in $(seq 1 100); do
  [ -s data/collector/tls/ca.pem ] && break
  kill -0 "${pids[0]}" 2>/dev/null || { echo "collector exited; see the messages above" >&2; exit 1; }
  sleep 0.2
done

./$bin/tilsyn-agent run --config configs/agent.yaml &
pids+=($!)

cat <<MSG

Tilsyn is running:
  console   http://127.0.0.1:7480/                     (the fleet; this machine appears within seconds)
  hosts     http://127.0.0.1:7480/api/v1/hosts        (the same as JSON)
  one host  http://127.0.0.1:7480/api/v1/hosts/<agent_id>
  metrics   http://127.0.0.1:7480/metrics              (tilsyn_hosts, tilsyn_patch_*, ...)
  health    http://127.0.0.1:7480/readyz
Press Ctrl-C to stop.

MSG
wait -n
