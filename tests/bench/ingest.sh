#!/usr/bin/env bash
# Collector ingest benchmark: a release collector (TLS, SQLite) fed by the fleet simulator.
#
#   [RAMP=s] [CONNECTIONS=n] tests/bench/ingest.sh HOSTS [SECONDS]
#
# CONNECTIONS is how many HTTP/2 connections the simulated hosts share (a real fleet has
# one per agent; set it to HOSTS to load the collector with that many TLS sessions).
#
# Prints the simulator's throughput and client-side latency every 10 s, then the
# collector's server-side ingest latency (p50/p99 from tilsyn_ingest_duration_seconds),
# its RSS, and the database size. Everything runs on loopback.
set -euo pipefail
cd "$(dirname "$0")/../.."
hosts=${1:-10000}
secs=${2:-300}
cargo build --release -q -p tilsyn-collector -p tilsyn-agent
dir=$(mktemp -d /tmp/tilsyn-bench.XXXXXX)
grpc=127.0.0.1:17443
http=127.0.0.1:17480
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
./target/release/tilsyn-collector run --config "$dir/collector.yaml" &
cpid=$!
trap 'kill $cpid 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do [ -s "$dir/data/tls/ca.pem" ] && break; sleep 0.1; done
sleep 0.5
echo "== $hosts simulated hosts for $secs s (ramp ${RAMP:-60} s)"
./target/release/tilsyn-agent simulate --collector "https://$grpc" --ca "$dir/data/tls/ca.pem" \
  --token bench-token-social-services --token bench-token-schools-000000 --token bench-token-it-operations \
  --hosts "$hosts" --ramp-seconds "${RAMP:-60}" --duration-seconds "$secs" --stats-seconds 10 \
  --offline-percent 0 --enroll-concurrency 256 --connections "${CONNECTIONS:-8}"
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
