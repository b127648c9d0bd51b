#!/usr/bin/env bash
# Schemathesis against the collector's OpenAPI document (GET /api/v1/openapi.json), as CI
# runs it (.ci/run; README, "Tests").
#
#   tests/api/schemathesis.sh
#
# Starts a collector on loopback (free ports, two departments, tokens required, file
# tokens for an admin and a department reader of social-services, an SLA file) and puts
# six simulated hosts in both departments. Then, with the department token:
#   1. tests/api/department_leaks.py walks every operation of the document: the other
#      department's (schools') hosts and incidents are 404 on every route that takes them,
#      filters naming them show nothing, actions are 403, and no answer names them;
#   2. `st run` with every check but one (below) and tests/api/schemathesis_hooks.py's
#      no_other_department_leak (no answer names a schools agent id, hostname or change
#      window);
# and last `st run` with the admin token (last: its generated actions may move or retire
# hosts). Fails on any 5xx, any answer outside the document (status, content type,
# headers, schema), an accepted invalid request, and any leak, printing the collector
# log's tail.
#
#   BIN_DIR=DIR    take tilsyn-collector and tilsyn-agent from DIR instead of building
#                  them (default: a debug build, target/debug)
#   ST_SCHEMA=FILE test against this copy of the document instead of the served one (to
#                  try a change to collector/src/api/openapi.yaml without rebuilding)
#   ST_MAX_EXAMPLES  test cases per operation (default 30)
#   ST_SEED          the generator's seed (default fixed, so a run repeats the last)
#   TILSYN_CACHE   where the Schemathesis virtualenv is kept (default
#                  /var/cache/tilsyn-ci, else ~/.cache/tilsyn-ci when that is not writable)
#
# Everything listens on 127.0.0.1 only and lives in a private temporary directory that is
# removed, with every process the script started, when it exits. Needs python3 with venv
# (Debian's python3-venv; .ci/run installs it) and PyPI for the first run.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

# Schemathesis 4.32.5 (PyPI; the newest 4.x when this was written, installs on Debian 12's
# Python 3.11). One exact version so a new release's stricter checks arrive by a change
# here, not by surprise.
ST_VERSION=4.32.5
EXAMPLES=${ST_MAX_EXAMPLES:-30}
SEED=${ST_SEED:-20261101}

# ---------------------------------------------------------------- Schemathesis, cached
cache=${TILSYN_CACHE:-/var/cache/tilsyn-ci}
if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
  cache=$HOME/.cache/tilsyn-ci
  mkdir -p "$cache"
fi
venv=$cache/schemathesis-venv
if [ "$("$venv/bin/st" --version 2>/dev/null || true)" != "st, version $ST_VERSION" ]; then
  echo "installing Schemathesis $ST_VERSION into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" || {
    echo "python3 -m venv failed: install Debian's python3-venv" >&2; exit 1; }
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$ST_VERSION"
fi
st=$venv/bin/st

# ---------------------------------------------------------------- binaries
if [ -n "${BIN_DIR:-}" ]; then
  collector_bin=$BIN_DIR/tilsyn-collector
  agent_bin=$BIN_DIR/tilsyn-agent
else
  cargo build -q -p tilsyn-collector -p tilsyn-agent --bins
  collector_bin=target/debug/tilsyn-collector
  agent_bin=target/debug/tilsyn-agent
fi
for b in "$collector_bin" "$agent_bin"; do
  [ -x "$b" ] || { echo "$b: no such executable (BIN_DIR=${BIN_DIR:-})" >&2; exit 1; }
done
collector_bin=$(readlink -f "$collector_bin")
agent_bin=$(readlink -f "$agent_bin")

# ---------------------------------------------------------------- collector and hosts
dir=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

fail() {
  echo "schemathesis.sh: FAILED: $*" >&2
  if [ -f "$dir/collector.log" ]; then
    echo "--- the collector's log, last 40 lines:" >&2
    tail -n 40 "$dir/collector.log" >&2
  fi
  exit 1
}

# Tokens: at least 32 characters; random per run.
secret() { python3 -c 'import secrets; print(secrets.token_hex(24))'; }
admin=$(secret); dept=$(secret)
enroll_social=$(secret); enroll_schools=$(secret)
printf '%s\n' "$admin" >"$dir/admin.token"
printf '%s\n' "$dept" >"$dir/dept.token"
chmod 600 "$dir"/*.token

cat >"$dir/sla.yaml" <<'YAML'
time_zone: Europe/Copenhagen
tiers:
  around-the-clock:
    name: Around the clock
    service_hours: {time_zone: Europe/Copenhagen, always: true}
    availability: 0.99
    attainment: 0.9
    response:   {P1: 1h, P2: 2h, P3: 4h, P4: 8h, P5: 16h}
    resolution: {P1: 4h, P2: 8h, P3: 16h, P4: 32h, P5: 64h}
default_tier: around-the-clock
services:
  - {id: case-management, name: Case management, departments: [social-services],
     hosts: {department: [social-services]}, up: {hosts: 1}}
  - {id: school-network, name: School network, departments: [schools],
     hosts: {department: [schools]}, up: {hosts: 1}}
YAML

cat >"$dir/collector.yaml" <<YAML
data_dir: data
grpc: {listen: 127.0.0.1:0, tls: {mode: auto}}
http:
  listen: 127.0.0.1:0
  auth:
    required: true
    tokens:
      - {name: ci-admin, role: admin, token_file: admin.token}
      - {name: ci-social-services, role: department, departments: [social-services], token_file: dept.token}
offline: {missed_intervals: 2, check_every: 1s}
departments:
  - {id: social-services, name: Social Services, tokens: [$enroll_social]}
  - {id: schools, name: Schools, tokens: [$enroll_schools]}
compliance: {standards_dir: '$root/configs/standards', watch_every: 0s}
sla: {file: sla.yaml, evaluate_every: 2s}
settings:
  defaults: {health_interval: 5s}
log: info
YAML

(cd "$dir" && NO_COLOR=1 exec "$collector_bin" run --config collector.yaml) >"$dir/collector.log" 2>&1 &
pids+=($!)

# Port 0: the collector binds free ports and logs them ("collector listening grpc=… http=…").
grpc_port='' http_port=''
for _ in $(seq 1 300); do
  line=$(sed 's/\x1b\[[0-9;]*m//g' "$dir/collector.log" | grep -m1 'collector listening' || true)
  if [ -n "$line" ]; then
    grpc_port=$(sed -E 's/.*grpc=[^ ]*:([0-9]+).*/\1/' <<<"$line")
    http_port=$(sed -E 's/.*http=[^ ]*:([0-9]+).*/\1/' <<<"$line")
    break
  fi
  kill -0 "${pids[0]}" 2>/dev/null || fail "the collector exited"
  sleep 0.1
done
[ -n "$http_port" ] || fail "no 'collector listening' line with the bound ports after 30 s"
base=http://127.0.0.1:$http_port
echo "collector: grpc 127.0.0.1:$grpc_port, http $base (in $dir)"

"$agent_bin" simulate --collector "https://127.0.0.1:$grpc_port" --ca "$dir/data/tls/ca.pem" \
  --token "$enroll_social" --token "$enroll_schools" --hosts 6 --ramp-seconds 1 \
  --duration-seconds 600 --stats-seconds 600 >"$dir/simulate.log" 2>&1 &
pids+=($!)

get() { # get TOKEN PATH: the body; fails on a non-2xx answer
  curl -sS --fail-with-body --max-time 30 -H "Authorization: Bearer $1" "$base$2"
}

hosts=''
for _ in $(seq 1 120); do
  hosts=$(get "$admin" /api/v1/hosts 2>/dev/null || true)
  if [ -n "$hosts" ] && python3 -c '
import json, sys
h = json.loads(sys.argv[1])["hosts"]
deps = {x["department"] for x in h}
sys.exit(0 if len(h) == 6 and deps == {"social-services", "schools"} else 1)' "$hosts"; then
    break
  fi
  hosts=''
  sleep 0.5
done
if [ -z "$hosts" ]; then
  tail -n 20 "$dir/simulate.log" >&2
  fail "the six simulated hosts were not listed in both departments within 60 s"
fi

# A change window only for schools: the department token may not see it.
curl -sS --fail-with-body --max-time 30 -H "Authorization: Bearer $admin" \
  -H 'Content-Type: application/json' -X POST "$base/api/v1/maintenance" \
  -d '{"change_ref":"CHG-SCHOOLS-4711","reason":"schools switch upgrade","end":"'"$(date -u -d '+2 days' +%Y-%m-%dT%H:%M:%SZ)"'","scope":{"department":["schools"]}}' \
  >/dev/null || fail "POST /api/v1/maintenance with the admin token"

# Let compliance evaluate and incidents open where they will (a few report rounds).
sleep 6

# What the department token must never see: schools' agent ids and hostnames, its window.
get "$admin" '/api/v1/hosts?department=schools' >"$dir/schools-hosts.json" || fail "GET /api/v1/hosts?department=schools"
get "$admin" '/api/v1/hosts?department=social-services' >"$dir/own-hosts.json" || fail "GET /api/v1/hosts?department=social-services"
get "$admin" '/api/v1/incidents?department=schools&limit=1000' >"$dir/schools-incidents.json" || fail "GET /api/v1/incidents"
get "$admin" '/api/v1/incidents?department=social-services&limit=1000' >"$dir/own-incidents.json" || fail "GET /api/v1/incidents"
get "$admin" /api/v1/compliance/standards >"$dir/standards.json" || fail "GET /api/v1/compliance/standards"
python3 - "$dir" <<'PY' || fail "collecting the departments' objects"
import json, sys
d = sys.argv[1]
load = lambda n: json.load(open(f"{d}/{n}.json"))
other = load("schools-hosts")["hosts"]
own = load("own-hosts")["hosts"]
assert other and own, "no hosts in one of the departments"
objects = {
    "other_department": "schools",
    "other_agent_ids": [h["agent_id"] for h in other],
    "other_hostnames": [h["hostname"] for h in other],
    "own_agent_ids": [h["agent_id"] for h in own],
    "other_incident_ids": [i["id"] for i in load("schools-incidents")["incidents"]],
    "own_incident_ids": [i["id"] for i in load("own-incidents")["incidents"]],
    "standards": [s["standard"] for s in load("standards")["standards"]],
}
json.dump(objects, open(f"{d}/objects.json", "w"), indent=1)
with open(f"{d}/forbidden.txt", "w") as f:
    for w in objects["other_agent_ids"] + objects["other_hostnames"] + ["CHG-SCHOOLS-4711"]:
        f.write(w + "\n")
print(f"schools: {len(other)} hosts, {len(objects['other_incident_ids'])} incidents; "
      f"social-services: {len(own)} hosts, {len(objects['own_incident_ids'])} incidents")
PY

# ---------------------------------------------------------------- the department token
python3 tests/api/department_leaks.py "$base" "$dept" "$dir/forbidden.txt" "$dir/objects.json" ||
  fail "the department token reached another department's objects (above)"

# Every check but positive_data_acceptance ("a request the document allows is accepted"):
# some parameters constrain each other in ways a parameter's schema cannot say (month or
# period, not both; from before to, at most 400 days apart; a change window's start before
# its end, at most 31 days; departments only for role department), so that check fails
# on requests the handlers rightly refuse with 400.
checks=all
schema=$base/api/v1/openapi.json
[ -z "${ST_SCHEMA:-}" ] || schema=$(readlink -f "$ST_SCHEMA")
st_run() { # st_run TOKEN
  (cd "$dir" && "$st" run "$schema" --url "$base" \
    --header "Authorization: Bearer $1" \
    --checks "$checks" --exclude-checks positive_data_acceptance \
    --max-examples "$EXAMPLES" --seed "$SEED" \
    --generation-database none --workers 2 \
    --request-timeout 30 --no-color)
}

# The hook must be loaded and bite: told that the caller's own hosts are forbidden, a short
# run over GET /api/v1/hosts has to fail with it.
python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))["own_agent_ids"]))' \
  "$dir/objects.json" >"$dir/own.txt"
if (cd "$dir" && SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH=$root/tests/api \
  TILSYN_FORBIDDEN=$dir/own.txt "$st" run "$schema" --url "$base" --header "Authorization: Bearer $dept" \
    --checks no_other_department_leak --include-path /api/v1/hosts --include-method GET \
    --phases fuzzing --max-examples 3 --seed "$SEED" --generation-database none \
    --no-color >"$dir/hook-selftest.log" 2>&1) ||
  ! grep -q "naming 'ag_" "$dir/hook-selftest.log"; then
  cat "$dir/hook-selftest.log" >&2
  fail "the leak hook (tests/api/schemathesis_hooks.py) did not catch the caller's own hosts planted as forbidden: is it loaded?"
fi
echo "leak hook: loaded (it caught the caller's own hosts planted as forbidden)"

echo "Schemathesis $ST_VERSION, department token (social-services)"
SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH=$root/tests/api TILSYN_FORBIDDEN=$dir/forbidden.txt \
  st_run "$dept" ||
  fail "Schemathesis with the department token (above)"

echo "Schemathesis $ST_VERSION, admin token"
st_run "$admin" || fail "Schemathesis with the admin token (above)"

kill -0 "${pids[0]}" 2>/dev/null || fail "the collector died during the run"
echo "schemathesis.sh: passed (no 5xx, every answer as documented, no leak across departments)"
