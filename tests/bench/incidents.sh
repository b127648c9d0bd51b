#!/usr/bin/env bash
# Fault-to-ticket latency: a release collector (TLS, SQLite) fed by the fleet simulator;
# a share of the simulated hosts fill a disk (+1 % per health report, every 15 s), and the
# collector raises an incident when a filesystem crosses 72 % (one observation: no
# hysteresis, so the figure is the pipeline's own time). The desk is the webhook adapter
# posting to a local receiver that records when each create call arrives.
#
#   [STORE=postgres] [COLLECTORS=n] [CONNECTIONS=n] tests/bench/incidents.sh [HOSTS] [SECONDS] [DEGRADE_PERCENT]
#   SMOKE=1 [BIN_DIR=DIR] [BENCH_GRPC_PORT=p] [BENCH_HTTP_PORT=p] [BENCH_DESK_PORT=p] \
#     tests/bench/incidents.sh [HOSTS] [SECONDS] [DEGRADE_PERCENT]
#
# Prints, per ticket: arrival at the desk minus the moment the collector received the report
# that crossed the threshold (ticket.opened_at_ms), as p50/p99/max; the collector's own
# tilsyn_incident_fault_to_desk_seconds histogram; and the ingest p99 (report received →
# committed), which comes before that.
#
# STORE=postgres puts the data in a private PostgreSQL (as in ingest.sh); COLLECTORS=n runs n
# collectors on it with the simulated hosts spread over them: a report that crosses the
# threshold at a follower reaches the leader's incident engine through the database, so
# the figure then includes that hop. CONNECTIONS as in ingest.sh (default 8 shared).
#
# Smoke mode (SMOKE=1; see common.sh): 20 hosts for 8 s, all of them filling a disk, health
# every 5 s, a 2 s ramp, and the threshold at 30 % (every simulated filesystem starts
# above it), so each host opens a ticket on its first report; free ports, debug binaries
# (or BIN_DIR). Ports default to 17543 (gRPC), 17580 (HTTP) and 17590 (the desk).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=SCRIPTDIR/common.sh
. tests/bench/common.sh
if smoke; then
  hosts=${1:-20}; secs=${2:-8}; degrade=${3:-100}
  interval=5s; threshold=0.30; ramp=2; stats=2
else
  hosts=${1:-10000}; secs=${2:-300}; degrade=${3:-10}
  interval=15s; threshold=0.72; ramp=60; stats=30
fi
bench_bins release
store=${STORE:-sqlite}
ncoll=${COLLECTORS:-1}
if [ "$ncoll" -gt 1 ] && [ "$store" != postgres ]; then
  echo "COLLECTORS=$ncoll needs STORE=postgres (several collectors share one database)" >&2
  exit 2
fi
desk=127.0.0.1:$(bench_port BENCH_DESK_PORT 17590)
dir=$(mktemp -d /tmp/tilsyn-bench-inc.XXXXXX)
# The collectors stop before their database; set +e: see ingest.sh.
trap 'set +e; kill ${cpids[*]:-} ${rpid:-} ${spid:-} 2>/dev/null; for p in ${cpids[*]:-}; do wait "$p" 2>/dev/null; done; [ -n "${pgpid:-}" ] && kill -INT "$pgpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
cat > "$dir/receiver.py" <<'PY'
import http.server, json, sys, time
log = open(sys.argv[2], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        at = time.time() * 1000
        try:
            v = json.loads(body)
            if v.get("event") == "create":
                log.write("%d %d %s\n" % (at, v["ticket"]["opened_at_ms"], v["key"]))
        except Exception:
            pass
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$dir/receiver.py" "${desk##*:}" "$dir/creates.log" &
rpid=$!
store_yaml=""
if [ "$store" = postgres ]; then
  bench_postgres "$dir"
  store_yaml="store: {postgres: {url: '$pg_url', pool_size: 8}}"
fi
bench_collectors "$ncoll" "$dir" "$(bench_port BENCH_GRPC_PORT 17543)" "$(bench_port BENCH_HTTP_PORT 17580)" "$store_yaml
settings:
  defaults: {health_interval: $interval}
incidents:
  conditions:
    - {when: {filesystem_above: $threshold}, severity: high, observations: 1}
  desks:
    - name: bench
      webhook: {url: \"http://$desk/hook\"}"
sleep 0.5
echo "== $hosts simulated hosts for $secs s, $degrade % filling a disk, on $store with $ncoll collector(s)"
# In the background, so that the trap can stop it too.
"$agent_bin" simulate --collector "$(IFS=,; echo "${urls[*]}")" --ca "$dir/c1/data/tls/ca.pem" \
  --token bench-token-social-services --token bench-token-schools-000000 --token bench-token-it-operations \
  --hosts "$hosts" --ramp-seconds "$ramp" --duration-seconds "$secs" --stats-seconds "$stats" \
  --offline-percent 0 --degrade-percent "$degrade" --enroll-concurrency 256 --connections "${CONNECTIONS:-8}" &
spid=$!
wait $spid
sleep 2
echo "== fault to desk (desk arrival − report received by the collector), per ticket"
sort -n "$dir/creates.log" | awk '{print $1-$2}' | sort -n | awk '
  {v[NR]=$1} END {
    if (NR==0) { print "no tickets"; exit }
    printf "tickets %d  p50 %d ms  p99 %d ms  max %d ms\n", NR, v[int(NR*0.5)+ (NR*0.5>int(NR*0.5))], v[int(NR*0.99)+(NR*0.99>int(NR*0.99))], v[NR] }'
# The leader's figures (it runs the incident engine); every collector's ingest.
for i in $(seq 1 "$ncoll"); do
  m=$(curl -s "http://${https[$i]}/metrics")
  # Not `echo "$m" | grep -q`: under pipefail grep leaving early can kill echo (SIGPIPE).
  leader=$(grep -c '^tilsyn_collector_leader 1$' <<<"$m" || true)
  [ "$ncoll" = 1 ] || echo "-- collector $i$([ "$leader" = 1 ] && echo ' (leader)')"
  echo "$m" | grep -E '^tilsyn_incident_fault_to_desk_seconds_(bucket\{le="(0.01|0.025|0.05|0.1|0.25|0.5|1|\+Inf)"\}|count)' || true
  echo "$m" | grep -E '^tilsyn_ingest_duration_seconds_(bucket\{le="(0.01|0.025|0.05|0.1)"\}|count)' || true
  echo "$m" | grep -E '^tilsyn_(collector_resident_memory_bytes|outbox_items|host_state_changes_total)' || true
  [ "$leader" = 0 ] ||
    echo "incidents open: $(echo "$m" | awk '/^tilsyn_incidents_open\{/ {n+=$2} END {print n+0}')"
done
