#!/usr/bin/env bash
# The collector's own absence: a release collector (TLS, SQLite, the offline condition, the
# file desk) with simulated hosts reporting health every 10 s is stopped for a while (an
# upgrade; KILL=1: kill -9) and started again. Counts what that raised: hosts marked
# offline, offline incidents and desk tickets after the restart (all should be 0), and
# prints the gap the collector recorded and how long the hosts took to get through.
#
#   [KILL=1] tests/bench/restart.sh [HOSTS] [DOWN_SECONDS]
#   SMOKE=1 [BIN_DIR=DIR] [BENCH_GRPC_PORT=p] [BENCH_HTTP_PORT=p] tests/bench/restart.sh [HOSTS] [DOWN_SECONDS]
#
# After the restart it waits past every host's grace (the agents' 72 s reconnect bound plus
# 3 missed 10 s intervals, and a margin) before it counts.
#
# Smoke mode (SMOKE=1; see common.sh): 10 hosts reporting every 5 s, 2 missed intervals,
# down 6 s, counted 10 s after the restart (before the grace ends: the figures then only
# show that the script works). Ports default to 16443 (gRPC) and 16480 (HTTP).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=SCRIPTDIR/common.sh
. tests/bench/common.sh
if smoke; then
  hosts=${1:-10}; down=${2:-6}; interval=5; missed=2; settle=10; warm=3
else
  hosts=${1:-100}; down=${2:-120}; interval=10; missed=3; settle=$((72 + 3 * 10 + 20)); warm=20
fi
bench_bins release
grpc=127.0.0.1:$(bench_port BENCH_GRPC_PORT 16443)
http=127.0.0.1:$(bench_port BENCH_HTTP_PORT 16480)
dir=$(mktemp -d /tmp/tilsyn-restart.XXXXXX)
trap 'set +e; kill ${cpid:-} ${spid:-} 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
cat > "$dir/collector.yaml" <<YAML
data_dir: data
grpc: {listen: $grpc, tls: {mode: auto}}
http: {listen: $http}
log: info
compliance: {standards_dir: '$PWD/configs/standards'}
offline: {missed_intervals: $missed, check_every: 1s}
departments:
  - {id: social-services, name: Social Services, tokens: [bench-token-social-services]}
settings: {defaults: {health_interval: ${interval}s}}
incidents:
  conditions:
    - {when: offline, severity: high, observations: 1, resolve_observations: 1}
YAML
start_collector() {
  "$collector_bin" run --config "$dir/collector.yaml" >>"$dir/collector.log" 2>&1 &
  cpid=$!
}
# metric NAME_WITH_LABELS: its value in the collector's exposition (0 when absent).
metric() {
  curl -s "http://$http/metrics" | awk -v n="$1" 'index($0, n " ") == 1 { print $2; f = 1 } END { if (!f) print 0 }'
}
online() { curl -s "http://$http/metrics" | awk '/^tilsyn_hosts\{.*state="online"/ { s += $2 } END { print s + 0 }'; }
offline_incidents() {
  curl -s "http://$http/api/v1/incidents?check=offline&limit=1000" |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["incidents"]))'
}
desk_tickets() { [ -f "$dir/data/incidents.jsonl" ] && grep -c '"create"' "$dir/data/incidents.jsonl" || echo 0; }

start_collector
wait_ca "$dir"
# Longer than everything: warm-up, the outage, the grace after it.
run=$((warm + 60 + down + settle + 30))
"$agent_bin" simulate --collector "https://$grpc" --ca "$dir/data/tls/ca.pem" \
  --token bench-token-social-services --hosts "$hosts" --ramp-seconds 2 \
  --duration-seconds "$run" --stats-seconds 3600 --offline-percent 0 --degrade-percent 0 \
  >"$dir/simulate.log" 2>&1 &
spid=$!
for _ in $(seq 1 600); do [ "$(online)" = "$hosts" ] && break; sleep 0.1; done
[ "$(online)" = "$hosts" ] || { echo "only $(online) of $hosts hosts came online" >&2; exit 1; }
sleep "$warm"
before_incidents=$(offline_incidents); before_tickets=$(desk_tickets)

if [ "${KILL:-0}" = 1 ]; then how="kill -9"; kill -KILL "$cpid"; else how="stop"; kill -TERM "$cpid"; fi
{ wait "$cpid"; } 2>/dev/null || true
sleep "$down"
t0=$(date +%s%3N)
start_collector
for _ in $(seq 1 300); do curl -sf "http://$http/readyz" >/dev/null && break; sleep 0.1; done
# How long until every host got through again.
through=""
for _ in $(seq 1 $((settle * 10))); do
  n=$(curl -s "http://$http/api/v1/hosts?limit=10000" |
    python3 -c "import json,sys; print(sum(1 for h in json.load(sys.stdin)['hosts'] if (h['last_seen_ms'] or 0) > $t0))")
  if [ "$n" = "$hosts" ]; then through=$(( $(date +%s%3N) - t0 )); break; fi
  sleep 0.5
done
left=$(( settle * 1000 - ($(date +%s%3N) - t0) ))
[ $left -gt 0 ] && sleep "$((left / 1000)).$((left % 1000 / 100))"

echo "== $hosts simulated hosts, health every ${interval} s, offline after $missed missed; collector $how for $down s"
echo "hosts online after the restart: $(online) of $hosts (all through again after ${through:-more than $settle s} ms)"
echo "offline marks after the restart: $(metric 'tilsyn_host_state_changes_total{state="offline"}')"
echo "offline incidents raised after the restart: $(( $(offline_incidents) - before_incidents ))"
echo "desk tickets created after the restart: $(( $(desk_tickets) - before_tickets ))"
echo "gap recorded: $(metric 'tilsyn_collector_gap_seconds_total{cause="down"}') s; hosts graced: $(metric tilsyn_collector_graced_hosts_total)"
sed 's/\x1b\[[0-9;]*m//g' "$dir/collector.log" | grep -m1 -o 'the collector was not running for.*from their deadline' |
  sed 's/^/log: /' || true
