#!/usr/bin/env bash
# Console benchmark: a release collector (SQLite) filled by the fleet simulator, then every
# console page timed as a browser asks for it.
#
#   [STORE=postgres] tests/bench/console.sh HOSTS [SECONDS] [REQUESTS]
#   SMOKE=1 [BIN_DIR=DIR] [BENCH_GRPC_PORT=p] [BENCH_HTTP_PORT=p] tests/bench/console.sh
#
# The simulator enrolls HOSTS hosts (Windows, macOS, Debian, Ubuntu, RHEL; 40–240 packages
# each) over SECONDS (ramp SECONDS/2) and stops; then each page is requested REQUESTS times
# one after another (default 20) with curl on loopback. Prints per page the HTML size and
# p50 / p95 / max of the time to the last byte (curl's time_total: the server's time plus
# well under a millisecond of loopback), and the collector's RSS. The pages: the fleet's
# first and a deep page, filters by department and state, searches by hostname prefix,
# serial, IP, installed software (with and without a version), pending update, security
# updates; a host; compliance, a standard, a rule's failing hosts; incidents; the SLA.
#
# Smoke mode (SMOKE=1; see common.sh): 20 hosts for 8 s, 3 requests per page. Ports
# default to 18443 (gRPC) and 18480 (HTTP).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=SCRIPTDIR/common.sh
. tests/bench/common.sh
if smoke; then
  hosts=${1:-20}; secs=${2:-8}; requests=${3:-3}
else
  hosts=${1:-100000}; secs=${2:-480}; requests=${3:-20}
fi
bench_bins release
store=${STORE:-sqlite}
dir=$(mktemp -d /tmp/tilsyn-bench.XXXXXX)
trap 'set +e; kill ${cpids[*]:-} ${spid:-} 2>/dev/null; for p in ${cpids[*]:-}; do wait "$p" 2>/dev/null; done; [ -n "${pgpid:-}" ] && kill -INT "$pgpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
bench_store "$dir"
bench_collectors 1 "$dir" "$(bench_port BENCH_GRPC_PORT 18443)" "$(bench_port BENCH_HTTP_PORT 18480)" \
  "store: {health_retention: 2h$store_yaml}
sla: {file: '$PWD/configs/sla.yaml'}
offline: {missed_intervals: 1000}"
http=${https[1]}
echo "== $hosts simulated hosts enrolled and reporting over $secs s on $store"
"$agent_bin" simulate --collector "${urls[0]}" --ca "$dir/c1/data/tls/ca.pem" \
  --token bench-token-social-services --token bench-token-schools-000000 --token bench-token-it-operations \
  --hosts "$hosts" --ramp-seconds $((secs / 2)) --duration-seconds "$secs" --stats-seconds $((secs / 4 + 1)) \
  --offline-percent 0 --enroll-concurrency 256 >"$dir/simulate.log" 2>&1 &
spid=$!
wait $spid || { cat "$dir/simulate.log" >&2; exit 1; }
spid=
tail -2 "$dir/simulate.log"
# What to ask for: a host of the fleet (its name, id, serial and first address), a rule.
api() { curl -sf "http://$http$1"; }
pick=$(api "/api/v1/hosts?limit=1&offset=$((hosts / 2))")
id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["hosts"][0]["agent_id"])' "$pick")
read -r name serial ip < <(api "/api/v1/hosts/$id" | python3 -c '
import json, sys
h = json.load(sys.stdin)
inv = h.get("inventory") or {}
ips = [a.split("/")[0] for n in inv.get("interfaces", []) for a in n.get("addresses", []) if not a.startswith(("127.", "::1", "fe80"))]
print(h["hostname"], (inv.get("hardware") or {}).get("serial") or "none", (ips or ["none"])[0])')
rule=$(api "/api/v1/compliance/standards" | python3 -c '
import json, sys
s = max(json.load(sys.stdin)["standards"], key=lambda s: s["hosts"]["compliant"] + s["hosts"]["noncompliant"])
r = max(s["rules"], key=lambda r: r["fail"])
print(s["standard"] + "/" + r["rule"])')
count=$(api "/api/v1/summary" | python3 -c 'import json,sys; print(sum(g["hosts"] for g in json.load(sys.stdin)["groups"]))')
echo "== $count hosts in the store; timing $requests requests per page (host $name, rule $rule)"
deep=$(( (count / 50) * 9 / 10 ))
pages=(
  "fleet|/"
  "fleet, a deep page|/?page=$deep"
  "fleet, one department and state|/?department=schools&state=online"
  "search: hostname prefix|/?q=${name%-*}"
  "search: serial|/?q=$serial"
  "search: IP address|/?q=$ip"
  "search: software|/?software=mozilla+firefox"
  "search: software + version|/?software=mozilla+firefox&version=133"
  "search: software, other department|/?software=libssl&department=it-operations"
  "search: pending update|/?update=openssl"
  "search: security updates|/?security=1"
  "host|/hosts/$id"
  "compliance|/compliance"
  "standard|/compliance/${rule%/*}"
  "rule: failing hosts|/compliance/$rule"
  "incidents|/incidents"
  "SLA, this month|/sla"
)
for p in "${pages[@]}"; do
  label=${p%%|*}; path=${p#*|}
  curl -s -o /dev/null "http://$http$path"  # warm
  times=()
  for _ in $(seq 1 "$requests"); do
    times+=("$(curl -s -o "$dir/page.html" -w '%{http_code} %{time_total}' "http://$http$path")")
  done
  python3 - "$label" "$path" "$(wc -c <"$dir/page.html")" "${times[@]}" <<'PY'
import sys
label, path, size, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
codes = {r.split()[0] for r in runs}
ms = sorted(float(r.split()[1]) * 1000 for r in runs)
if codes != {"200"}:
    sys.exit(f"{label} ({path}): HTTP {sorted(codes)}")
q = lambda f: ms[min(len(ms) - 1, int(f * len(ms)))]
print(f"{label:38} p50 {q(0.5):7.1f} ms  p95 {q(0.95):7.1f} ms  max {ms[-1]:7.1f} ms  {size // 1024:5} KiB")
PY
done
echo "collector RSS $(awk '/VmRSS/ {printf "%d MiB", $2/1024}' "/proc/${cpids[0]}/status"); database $(du -sh "$dir/c1/data" | cut -f1)"
