#!/usr/bin/env bash
# The Windows agent end to end under Wine (README "Tests", packaging/README.md "Windows"):
# the MSI that ships installs into a fresh private Wine prefix with COLLECTOR, CA and TOKEN,
# its service enrolls with a Linux collector on loopback and reports with Wine's Windows
# facts; a program installed by a second MSI appears in the host's software; the spool
# survives a service stop and start while the collector is away and is delivered when it
# is back; an upgrade to a newer MSI keeps the identity; uninstalling removes the service
# and leaves the state.
#
#   tests/windows/e2e.sh            # builds with packaging/windows/build.sh first
#   SKIP_BUILD=1 tests/windows/e2e.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

target_dir=${TILSYN_WINDOWS_TARGET_DIR:-$root/target/windows}
dist=$target_dir/dist
[ -n "${SKIP_BUILD:-}" ] || packaging/windows/build.sh
cargo build -q -p tilsyn-collector --bin tilsyn-collector
collector_bin=$root/target/debug/tilsyn-collector
for f in "$dist/tilsyn-agent.exe" "$dist/tilsyn-agent.msi" "$dist/tilsyn-testprogram.msi" "$dist/tilsyn-agent-upgrade.msi"; do
  [ -f "$f" ] || { echo "e2e.sh: $f missing: run packaging/windows/build.sh" >&2; exit 1; }
done

dir=$(mktemp -d)
export TILSYN_WINEPREFIX=$dir/prefix
data=$TILSYN_WINEPREFIX/drive_c/ProgramData/Tilsyn
wine_sh=$root/packaging/windows/wine.sh
collector_pid=''
cleanup() {
  [ -z "$collector_pid" ] || kill "$collector_pid" 2>/dev/null || true
  WINEPREFIX=$TILSYN_WINEPREFIX wineserver -k 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

fail() {
  echo "e2e.sh: FAILED: $*" >&2
  echo "--- collector log (last 30 lines):" >&2
  tail -n 30 "$dir/collector.log" >&2 || true
  echo "--- agent log (last 30 lines):" >&2
  tail -n 30 "$data/logs/agent.log" >&2 || true
  exit 1
}
step() { echo "== $*"; }

secret() { python3 -c 'import secrets; print(secrets.token_hex(24))'; }
admin=$(secret); enroll=$(secret)
printf '%s\n' "$admin" >"$dir/admin.token"
cat >"$dir/collector.yaml" <<YAML
data_dir: data
grpc: {listen: 127.0.0.1:0, tls: {mode: auto}}
http:
  listen: 127.0.0.1:0
  auth:
    required: true
    tokens:
      - {name: e2e-admin, role: admin, token_file: admin.token}
offline: {missed_intervals: 3, check_every: 1s}
departments:
  - {id: schools, name: Schools, tokens: [$enroll]}
compliance: {standards_dir: '$root/configs/standards', watch_every: 0s}
settings:
  defaults: {health_interval: 5s}
log: info
YAML

# Starts the collector; the second start (after the outage) binds the same ports.
grpc_port=0 http_port=0
start_collector() {
  sed -i -E "s/^grpc: \{listen: 127.0.0.1:[0-9]+/grpc: {listen: 127.0.0.1:$grpc_port/; s/^  listen: 127.0.0.1:[0-9]+/  listen: 127.0.0.1:$http_port/" "$dir/collector.yaml"
  : >"$dir/collector.log"
  (cd "$dir" && NO_COLOR=1 exec "$collector_bin" run --config collector.yaml) >>"$dir/collector.log" 2>&1 &
  collector_pid=$!
  local line=''
  for _ in $(seq 1 300); do
    line=$(grep -m1 'collector listening' "$dir/collector.log" || true)
    [ -n "$line" ] && break
    kill -0 "$collector_pid" 2>/dev/null || fail "the collector exited"
    sleep 0.1
  done
  [ -n "$line" ] || fail "the collector did not listen within 30 s"
  grpc_port=$(sed -E 's/.*grpc=[^ ]*:([0-9]+).*/\1/' <<<"$line")
  http_port=$(sed -E 's/.*http=[^ ]*:([0-9]+).*/\1/' <<<"$line")
}
api() { curl -fsS -H "Authorization: Bearer $admin" "http://127.0.0.1:$http_port$1"; }
# Waits up to $1 seconds for the Python expression $3 over the JSON at $2 (`j`) to be true.
wait_for() {
  local seconds=$1 path=$2 expr=$3 what=$4
  for _ in $(seq 1 "$seconds"); do
    if api "$path" 2>/dev/null | python3 -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if ($expr) else 1)" 2>/dev/null; then
      return 0
    fi
    sleep 1
  done
  fail "$what (after $seconds s; last answer: $(api "$path" 2>&1 | head -c 600))"
}
wine() { "$wine_sh" shell "$@"; }
winpath() { echo "Z:${1//\//\\}"; }

step "collector on loopback"
start_collector
echo "grpc 127.0.0.1:$grpc_port, http 127.0.0.1:$http_port"

step "a fresh Wine prefix"
"$wine_sh" prefix >/dev/null

step "msiexec /i tilsyn-agent.msi /qn COLLECTOR=… CA=… TOKEN=…"
wine msiexec /i "$(winpath "$dist/tilsyn-agent.msi")" /qn \
  "COLLECTOR=https://127.0.0.1:$grpc_port" "CA=$(winpath "$dir/data/tls/ca.pem")" "TOKEN=$enroll" \
  || fail "msiexec /i exited with $?"
[ -f "$TILSYN_WINEPREFIX/drive_c/Program Files/Tilsyn/tilsyn-agent.exe" ] || fail "the exe is not in Program Files"
wine sc query TilsynAgent | grep -q RUNNING || fail "the TilsynAgent service is not running: $(wine sc query TilsynAgent)"

step "the service enrolls and reports this Wine 'PC'"
wait_for 90 /api/v1/hosts "j['count'] == 1 and j['hosts'][0]['os_family'] == 'windows' and j['hosts'][0]['os_name'].startswith('Microsoft Windows 10')" \
  "no Windows host in /api/v1/hosts"
agent_id=$(api /api/v1/hosts | python3 -c 'import json,sys; print(json.load(sys.stdin)["hosts"][0]["agent_id"])')
echo "enrolled as $agent_id"
# The token given to the installer is gone from the registry once taken.
if wine reg query 'HKLM\SOFTWARE\Tilsyn\Agent' /v EnrollToken 2>/dev/null | grep -q "$enroll"; then
  fail "the enrollment token is still in HKLM\\SOFTWARE\\Tilsyn\\Agent"
fi
grep -q "$enroll" -r "$data/state" 2>/dev/null && fail "the enrollment token is still in the state directory"
wait_for 60 "/api/v1/hosts/$agent_id" "j.get('inventory') and j['inventory']['os']['version'].startswith('10.0.') and j['inventory']['hardware']['memory_bytes'] > 0 and any(d['mount_point'] == 'C:\\\\' for d in j['inventory']['disks'])" \
  "the inventory lacks Windows' version, memory or the C: drive"
wait_for 60 "/api/v1/hosts/$agent_id" "j.get('health') and j['health']['memory_total_bytes'] > 0 and len(j['health']['filesystems']) > 0" \
  "no health with memory and filesystems (GetSystemTimes, GetDiskFreeSpaceExW)"

step "a program installed by MSI appears in the software"
wine msiexec /i "$(winpath "$dist/tilsyn-testprogram.msi")" /qn || fail "the test program's MSI did not install"
# The software interval is an hour at least; a service restart reports it at once.
wine net stop TilsynAgent >/dev/null && wine net start TilsynAgent >/dev/null || fail "restarting the service"
wait_for 60 "/api/v1/hosts/$agent_id" "any(p['name'] == 'Tilsyn Test Program' and p['version'] == '2.5.1' for p in (j.get('software') or []))" \
  "Tilsyn Test Program 2.5.1 not in the host's software"

step "the spool survives a service stop and start while the collector is away"
kill "$collector_pid"; wait "$collector_pid" 2>/dev/null || true; collector_pid=''
spooled=0
for _ in $(seq 1 60); do
  spooled=$(find "$data/state/spool" -maxdepth 1 -name '*.rpt' 2>/dev/null | wc -l)
  [ "$spooled" -ge 3 ] && break
  sleep 1
done
[ "$spooled" -ge 3 ] || fail "the agent spooled $spooled reports in 60 s without a collector"
wine net stop TilsynAgent >/dev/null || fail "net stop TilsynAgent"
wine sc query TilsynAgent | grep -q STOPPED || fail "the service did not stop"
kept=$(find "$data/state/spool" -maxdepth 1 -name '*.rpt' | wc -l)
[ "$kept" -ge "$spooled" ] || fail "the spool lost reports over the stop ($spooled before, $kept after)"
first=$(find "$data/state/spool" -maxdepth 1 -name '*.rpt' | sort | head -1)
wine net start TilsynAgent >/dev/null || fail "net start TilsynAgent"
start_collector
for _ in $(seq 1 90); do
  [ -f "$first" ] || break
  sleep 1
done
[ ! -f "$first" ] || fail "the oldest spooled report ($(basename "$first")) was not delivered within 90 s of the collector's return"
echo "$kept reports spooled over the stop; delivered after the collector came back"

step "an upgrade keeps the identity"
before=$(cat "$data/state/agent-state.json" 2>/dev/null || ls "$data/state")
wine msiexec /i "$(winpath "$dist/tilsyn-agent-upgrade.msi")" /qn || fail "the upgrade's msiexec failed"
wine sc query TilsynAgent | grep -q RUNNING || fail "the service is not running after the upgrade"
after=$(cat "$data/state/agent-state.json" 2>/dev/null || ls "$data/state")
[ "$before" = "$after" ] || fail "the identity changed over the upgrade"
wait_for 60 /api/v1/hosts "j['count'] == 1 and j['hosts'][0]['agent_id'] == '$agent_id'" "the upgraded agent is not the same single host"

step "uninstall removes the service and keeps the state"
wine msiexec /x "$(winpath "$dist/tilsyn-agent-upgrade.msi")" /qn || fail "msiexec /x failed"
if wine sc query TilsynAgent 2>/dev/null | grep -q STATE; then fail "the service is still registered"; fi
[ ! -f "$TILSYN_WINEPREFIX/drive_c/Program Files/Tilsyn/tilsyn-agent.exe" ] || fail "the exe stayed in Program Files"
[ -f "$data/agent.yaml" ] || fail "the uninstall removed agent.yaml"
[ -d "$data/state" ] || fail "the uninstall removed the state directory"

echo "e2e.sh: passed"
