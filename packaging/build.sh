#!/usr/bin/env bash
# Builds the packages: packaging/build.sh [OUTDIR]   (default target/packages)
#
#   tilsyn-agent_<version>-<rev>_amd64.deb      tilsyn-agent-<version>-<rev>.x86_64.rpm
#   tilsyn-collector_<version>-<rev>_amd64.deb  tilsyn-collector-<version>-<rev>.x86_64.rpm
#
# With cargo-deb and cargo-generate-rpm (crates.io; installed here when missing), from the
# metadata in agent/Cargo.toml and collector/Cargo.toml. The agent is built with the
# size-optimised `agent` profile, the collector with `release`.
#
# Environment: TILSYN_PACKAGE_REVISION (default 1) is the packages' revision/release, e.g. to
# roll out a rebuilt package of the same version; SKIP_BUILD=1 packages binaries already
# built (packaging/test.sh uses it to make an upgrade from the same binaries).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-target/packages}")
rev=${TILSYN_PACKAGE_REVISION:-1}
mkdir -p "$out"

for tool in cargo-deb cargo-generate-rpm; do
    command -v "$tool" >/dev/null || cargo install --locked "$tool"
done
command -v help2man >/dev/null || { echo "packaging/build.sh needs help2man (apt-get install help2man)" >&2; exit 2; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    cargo build --locked --release -p tilsyn-collector
    cargo build --locked --profile agent -p tilsyn-agent
fi

# Manual pages from each program's --help (help2man), gzipped beside the binaries, where
# the packages' metadata takes them from.
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
man_page() { # BINARY DESCRIPTION
    help2man --no-info --section 1 --name "$2" --version-string "$version" "$1" >"$1.1"
    gzip -9nf "$1.1"
}
man_page "$target/release/tilsyn-collector" "Tilsyn collector: agents in, incidents, metrics and API out"
man_page "$target/agent/tilsyn-agent" "Tilsyn agent: reports this machine to a Tilsyn collector"

cargo deb --no-build --quiet -p tilsyn-collector --deb-revision "$rev" -o "$out" >/dev/null
cargo deb --no-build --quiet -p tilsyn-agent --profile agent --deb-revision "$rev" -o "$out" >/dev/null
cargo generate-rpm -p collector -s "release = \"$rev\"" -o "$out"
cargo generate-rpm -p agent --profile agent -s "release = \"$rev\"" -o "$out"
ls -1 "$out"/tilsyn-*"$rev"[._]*
