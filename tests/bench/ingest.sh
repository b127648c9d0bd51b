#!/usr/bin/env bash
# Collector ingest benchmark: a release collector (TLS, SQLite) fed by the fleet simulator.
#
#   [RAMP=s] [CONNECTIONS=n] [IDLE_TIMEOUT=d] [STORE=postgres] [COLLECTORS=n] tests/bench/ingest.sh HOSTS [SECONDS]
#   SMOKE=1 [BIN_DIR=DIR] [BENCH_GRPC_PORT=p] [BENCH_HTTP_PORT=p] tests/bench/ingest.sh [HOSTS] [SECONDS]
#
# CONNECTIONS is how many HTTP/2 connections the simulated hosts share (default 8). Set it to
# HOSTS and each simulated host behaves as an agent does: its own connection, closed after
# IDLE_TIMEOUT without a call (default 5s, as collector.idle_timeout; `keep` holds it open)
# and reopened with the TLS session resumed.
# STORE=postgres puts the data in a private PostgreSQL (initdb in the temporary directory,
# loopback, fsync on as in production; PostgreSQL's server binaries on PATH or in
# /usr/lib/postgresql/*/bin); COLLECTORS=n (with STORE=postgres) runs n collectors on it,
# on consecutive ports, and spreads the connections over them.
#
# Prints the simulator's throughput and client-side latency every 10 s, then the
# collector's server-side ingest latency (p50/p99 from tilsyn_ingest_duration_seconds),
# its RSS, its CPU time per report, the most connections open at once (sampled every
# stats interval), its TLS handshakes by kind, and the database size. Everything runs on
# loopback.
#
# Smoke mode (SMOKE=1; see common.sh): 20 hosts for 6 s, a 2 s ramp (RAMP still applies),
# figures every 2 s, free ports, debug binaries (or BIN_DIR). Ports default to 17443 (gRPC)
# and 17480 (HTTP).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=SCRIPTDIR/common.sh
. tests/bench/common.sh
if smoke; then
  hosts=${1:-20}; secs=${2:-6}; ramp=${RAMP:-2}; stats=2
else
  hosts=${1:-10000}; secs=${2:-300}; ramp=${RAMP:-60}; stats=10
fi
bench_bins release
store=${STORE:-sqlite}
ncoll=${COLLECTORS:-1}
if [ "$ncoll" -gt 1 ] && [ "$store" != postgres ]; then
  echo "COLLECTORS=$ncoll needs STORE=postgres (several collectors share one database)" >&2
  exit 2
fi
dir=$(mktemp -d /tmp/tilsyn-bench.XXXXXX)
# The collectors stop before their database; set +e: a failing kill (nothing started yet)
# must not end the trap before the rest is stopped and removed.
trap 'set +e; kill ${cpids[*]:-} ${spid:-} 2>/dev/null; for p in ${cpids[*]:-}; do wait "$p" 2>/dev/null; done; [ -n "${pgpid:-}" ] && kill -INT "$pgpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
bench_store "$dir"
bench_collectors "$ncoll" "$dir" "$(bench_port BENCH_GRPC_PORT 17443)" "$(bench_port BENCH_HTTP_PORT 17480)" \
  "store: {health_retention: 24h$store_yaml}"
http=${https[1]}
sleep 0.5
echo "== $hosts simulated hosts for $secs s (ramp $ramp s) on $store with $ncoll collector(s)"
# In the background, so that the trap can stop it too.
"$agent_bin" simulate --collector "$(IFS=,; echo "${urls[*]}")" --ca "$dir/c1/data/tls/ca.pem" \
  --token bench-token-social-services --token bench-token-schools-000000 --token bench-token-it-operations \
  --hosts "$hosts" --ramp-seconds "$ramp" --duration-seconds "$secs" --stats-seconds "$stats" \
  --offline-percent 0 --enroll-concurrency 256 --connections "${CONNECTIONS:-8}" \
  --idle-timeout "${IDLE_TIMEOUT:-5s}" &
spid=$!
# The most connections each collector has open at once, sampled while the fleet runs.
declare -A maxconn
while kill -0 "$spid" 2>/dev/null; do
  for i in $(seq 1 "$ncoll"); do
    n=$(curl -s "http://${https[$i]}/metrics" | sed -n 's/^tilsyn_collector_grpc_connections \([0-9]*\)$/\1/p')
    [ "${n:-0}" -le "${maxconn[$i]:-0}" ] || maxconn[$i]=$n
  done
  sleep "$stats"
done
wait $spid
for i in $(seq 1 "$ncoll"); do
m=$(curl -s "http://${https[$i]}/metrics")
# utime + stime of the collector process, in clock ticks.
ticks=$(awk '{print $14 + $15}' "/proc/${cpids[$((i - 1))]}/stat")
[ "$ncoll" = 1 ] || echo "-- collector $i"
python3 - "$m" "$ticks" "$(getconf CLK_TCK)" "${maxconn[$i]:-0}" <<'PY'
import sys, re
text, ticks, hz, maxconn = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
b = [(float('inf') if m.group(1) == '+Inf' else float(m.group(1)), float(m.group(2)))
     for m in re.finditer(r'^tilsyn_ingest_duration_seconds_bucket\{le="([^"]+)"\} (\S+)$', text, re.M)]
total = b[-1][1]
def q(p):
    for le, c in b:
        if c >= p * total:
            return le
print(f"server-side ingest latency over {int(total)} calls: p50 <= {q(0.5)*1000:.1f} ms, p99 <= {q(0.99)*1000:.1f} ms (bucket bounds)")
for name in ["tilsyn_collector_resident_memory_bytes"]:
    v = re.search(rf'^{name} (\S+)$', text, re.M)
    print(f"collector RSS: {float(v.group(1))/2**20:.0f} MiB")
reports = 0
for m in re.finditer(r'^tilsyn_reports_ingested_total\{section="(\w+)"\} (\S+)$', text, re.M):
    print(f"ingested {m.group(1)}: {m.group(2)}")
    reports += float(m.group(2))
cpu = ticks / hz
print(f"collector CPU: {cpu:.1f} s user+sys, {cpu / max(reports, 1) * 1e6:.0f} us per report")
hs = {m.group(1): int(float(m.group(2))) for m in
      re.finditer(r'^tilsyn_collector_tls_handshakes_total\{kind="(\w+)"\} (\S+)$', text, re.M)}
print(f"connections: at most {maxconn} open at once; TLS handshakes: full {hs.get('full', 0)}, "
      f"resumed {hs.get('resumed', 0)}, failed {hs.get('failed', 0)}")
if re.search(r'^tilsyn_collector_leader 1$', text, re.M):
    hosts = sum(float(m.group(1)) for m in re.finditer(r'^tilsyn_hosts\{[^}]*\} (\S+)$', text, re.M))
    print(f"hosts known: {hosts:.0f}")
PY
done
if [ "$store" = postgres ]; then
  du -sh "$dir/pg/data" | sed 's/^/db: PostgreSQL data directory (with WAL) /'
else
  du -sh "$dir/c1/data/tilsyn.db"* | sed 's/^/db: /'
fi
