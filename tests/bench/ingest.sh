#!/usr/bin/env bash
# Collector ingest benchmark: a release collector (TLS, SQLite) fed by the fleet simulator.
#
#   [RAMP=s] [CONNECTIONS=n] tests/bench/ingest.sh HOSTS [SECONDS]
#   SMOKE=1 [BIN_DIR=DIR] [BENCH_GRPC_PORT=p] [BENCH_HTTP_PORT=p] tests/bench/ingest.sh [HOSTS] [SECONDS]
#
# CONNECTIONS is how many HTTP/2 connections the simulated hosts share (a real fleet has
# one per agent; set it to HOSTS to load the collector with that many TLS sessions).
#
# Prints the simulator's throughput and client-side latency every 10 s, then the
# collector's server-side ingest latency (p50/p99 from tilsyn_ingest_duration_seconds),
# its RSS, and the database size. Everything runs on loopback.
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
grpc=127.0.0.1:$(bench_port BENCH_GRPC_PORT 17443)
http=127.0.0.1:$(bench_port BENCH_HTTP_PORT 17480)
dir=$(mktemp -d /tmp/tilsyn-bench.XXXXXX)
trap 'kill ${cpid:-} ${spid:-} 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
cat > "$dir/collector.yaml" <<YAML
data_dir: data
grpc: {listen: $grpc, tls: {mode: auto}}
http: {listen: $http}
store: {health_retention: 24h}
log: warn
compliance: {standards_dir: '$PWD/configs/standards'}
departments:
  - {id: social-services, name: Social Services, tokens: [bench-token-social-services]}
  - {id: schools, name: Schools, tokens: [bench-token-schools-000000]}
  - {id: it-operations, name: IT Operations, tokens: [bench-token-it-operations]}
YAML
"$collector_bin" run --config "$dir/collector.yaml" &
cpid=$!
wait_ca "$dir"
sleep 0.5
echo "== $hosts simulated hosts for $secs s (ramp $ramp s)"
# In the background, so that the trap can stop it too.
"$agent_bin" simulate --collector "https://$grpc" --ca "$dir/data/tls/ca.pem" \
  --token bench-token-social-services --token bench-token-schools-000000 --token bench-token-it-operations \
  --hosts "$hosts" --ramp-seconds "$ramp" --duration-seconds "$secs" --stats-seconds "$stats" \
  --offline-percent 0 --enroll-concurrency 256 --connections "${CONNECTIONS:-8}" &
spid=$!
wait $spid
m=$(curl -s "http://$http/metrics")
python3 - "$m" <<'PY'
import sys, re
text = sys.argv[1]
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
for m in re.finditer(r'^tilsyn_reports_ingested_total\{section="(\w+)"\} (\S+)$', text, re.M):
    print(f"ingested {m.group(1)}: {m.group(2)}")
hosts = sum(float(m.group(1)) for m in re.finditer(r'^tilsyn_hosts\{[^}]*\} (\S+)$', text, re.M))
print(f"hosts known: {hosts:.0f}")
PY
du -sh "$dir/data/tilsyn.db"* | sed 's/^/db: /'
