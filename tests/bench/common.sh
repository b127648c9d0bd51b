# shellcheck shell=bash
# Shared by the benchmark scripts in this directory (sourced, not run).
#
# Smoke mode, the same for every script: SMOKE=1 runs the benchmark for a few seconds with
# tiny parameters (a handful of hosts) and prints the usual figure lines, which then mean
# nothing; it only shows the script still works. tests/bench_smoke.rs runs each script this
# way (`cargo test -p tilsyn-e2e --test bench_smoke`), so a change that breaks one fails CI.
#
#   SMOKE=1            tiny defaults for the positional arguments (still overridable);
#                      ports are free ones unless given; no release build (see BIN_DIR)
#   BIN_DIR=DIR        take tilsyn-collector and tilsyn-agent from DIR instead of building
#                      them (default: the release build as always; in smoke mode a debug
#                      build, target/debug)
#   BENCH_<NAME>_PORT  a loopback port the script listens on (each script lists its own);
#                      default: the script's fixed port, in smoke mode a free port
#
# Everything listens on 127.0.0.1 only and lives in a private temporary directory that is
# removed, with every process the script started, when it exits.

smoke() { [ "${SMOKE:-0}" = 1 ]; }

# bench_port VAR DEFAULT: $VAR when set; else a free loopback port in smoke mode; else DEFAULT.
bench_port() {
  local v=${!1:-}
  if [ -n "$v" ]; then
    echo "$v"
  elif smoke; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
  else
    echo "$2"
  fi
}

# bench_bins: sets collector_bin and agent_bin. BIN_DIR when set; else in smoke mode a debug
# build; else the release build ($1 is the full-mode build: release or agent-profile).
bench_bins() {
  if [ -n "${BIN_DIR:-}" ]; then
    collector_bin=$BIN_DIR/tilsyn-collector
    agent_bin=$BIN_DIR/tilsyn-agent
  elif smoke; then
    cargo build -q -p tilsyn-collector -p tilsyn-agent --bins
    collector_bin=target/debug/tilsyn-collector
    agent_bin=target/debug/tilsyn-agent
  elif [ "${1:-release}" = agent-profile ]; then
    cargo build --release -q -p tilsyn-collector
    cargo build --profile agent -q -p tilsyn-agent   # the agent's size-optimised release profile
    collector_bin=target/release/tilsyn-collector
    agent_bin=target/agent/tilsyn-agent
  else
    cargo build --release -q -p tilsyn-collector -p tilsyn-agent
    collector_bin=target/release/tilsyn-collector
    agent_bin=target/release/tilsyn-agent
  fi
  local b
  for b in "$collector_bin" "$agent_bin"; do
    [ -x "$b" ] || { echo "$b: no such executable (BIN_DIR=${BIN_DIR:-})" >&2; exit 1; }
  done
}

# wait_ca DIR: waits (at most 30 s) for the collector's generated CA in DIR/data/tls.
wait_ca() {
  local _
  for _ in $(seq 1 300); do [ -s "$1/data/tls/ca.pem" ] && return 0; sleep 0.1; done
  echo "the collector did not start (no $1/data/tls/ca.pem after 30 s)" >&2
  return 1
}

# bench_postgres DIR: a private PostgreSQL in DIR/pg (initdb, loopback only, fsync on as in
# production; its server binaries on PATH or in /usr/lib/postgresql/*/bin); sets pgpid and
# pg_url. The caller's exit trap stops it (kill -INT "$pgpid") after the collectors.
bench_postgres() {
  local initdb pgbin pgport as_pg=() _
  initdb=$(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1 || true)
  [ -x "$initdb" ] || { echo "STORE=postgres: PostgreSQL's initdb not found (Debian's postgresql package)" >&2; exit 1; }
  pgbin=$(dirname "$(readlink -f "$initdb")")
  mkdir -p "$1/pg"
  if [ "$(id -u)" = 0 ]; then
    chmod 755 "$1"; chown postgres: "$1/pg"
    as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups --)
  fi
  "${as_pg[@]}" "$pgbin/initdb" -D "$1/pg/data" -U tilsyn -A trust -E UTF8 >/dev/null
  pgport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${as_pg[@]}" "$pgbin/postgres" -D "$1/pg/data" -h 127.0.0.1 -p "$pgport" -k "$1/pg" \
    -c max_connections=200 -c shared_buffers=512MB >"$1/pg/log" 2>&1 &
  pgpid=$!
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$pgport") 2>/dev/null && break; sleep 0.1; done
  sleep 0.5
  "$pgbin/createdb" -h 127.0.0.1 -p "$pgport" -U tilsyn tilsyn
  pg_url="postgres://tilsyn@127.0.0.1:$pgport/tilsyn"
}

# bench_store DIR: sets store_yaml for the collectors' `store:` section: empty for SQLite
# (the default), or a private PostgreSQL in DIR (bench_postgres) with STORE=postgres.
bench_store() {
  store_yaml=""
  if [ "${STORE:-sqlite}" = postgres ]; then
    bench_postgres "$1"
    store_yaml=", postgres: {url: '$pg_url', pool_size: 8}"
  fi
}

# bench_collectors N DIR GRPC_BASE HTTP_BASE YAML: starts N release collectors in DIR/c1..cN
# (TLS auto, one CA for all, the three bench departments, the shipped standards, log warn)
# with YAML appended to each config; collector i listens on GRPC_BASE+i-1 and
# HTTP_BASE+i-1 (in smoke mode collectors after the first on free ports). Sets cpids,
# urls (the gRPC URLs) and https[i] (collector i's HTTP host:port).
bench_collectors() {
  local n=$1 dir=$2 grpc_base=$3 http_base=$4 yaml=$5 i c gp hp
  cpids=(); urls=(); https=()
  for i in $(seq 1 "$n"); do
    c="$dir/c$i"; mkdir -p "$c"
    if [ "$i" = 1 ] || ! smoke; then
      gp=$((grpc_base + i - 1)); hp=$((http_base + i - 1))
    else
      gp=$(bench_port BENCH_NONE 0); hp=$(bench_port BENCH_NONE 0)
    fi
    urls+=("https://127.0.0.1:$gp"); https[$i]="127.0.0.1:$hp"
    cat > "$c/collector.yaml" <<YAML
data_dir: data
grpc: {listen: 127.0.0.1:$gp, tls: {mode: auto}}
http: {listen: 127.0.0.1:$hp}
log: warn
compliance: {standards_dir: '$PWD/configs/standards'}
departments:
  - {id: social-services, name: Social Services, tokens: [bench-token-social-services]}
  - {id: schools, name: Schools, tokens: [bench-token-schools-000000]}
  - {id: it-operations, name: IT Operations, tokens: [bench-token-it-operations]}
$yaml
YAML
    # One certificate for all collectors (the agents trust one CA).
    [ "$i" = 1 ] || { mkdir -p "$c/data"; cp -r "$dir/c1/data/tls" "$c/data/"; }
    "$collector_bin" run --config "$c/collector.yaml" 2>"$c/collector.log" &
    cpids+=($!)
    wait_ca "$c" || { cat "$c/collector.log" >&2; exit 1; }
  done
}
