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
