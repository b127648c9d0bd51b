#!/usr/bin/env bash
# Builds the collector's container image without a container engine: packaging/image.sh [OUTDIR]
#
#   OUTDIR/tilsyn-collector-oci/          an OCI image layout (tag: the crate version)
#   OUTDIR/tilsyn-collector-<version>.oci.tar   the same as one archive:
#       podman load -i …  |  skopeo copy oci-archive:… docker://registry/tilsyn-collector:<version>
#
# Made with umoci (Debian's package) from the release binary and the shared libraries it
# links (glibc, libgcc_s): no base image, no shell, no package manager inside. It runs as
# uid/gid 10001 (not root), keeps its database and TLS material in the volume
# /var/lib/tilsyn-collector, reads department tokens from /run/secrets, and answers health
# checks with `tilsyn-collector health` (compose) or GET /readyz (Kubernetes).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-target/packages}")
command -v umoci >/dev/null || { echo "packaging/image.sh needs umoci (apt-get install umoci)" >&2; exit 2; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin=$target/release/tilsyn-collector
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --locked --release -p tilsyn-collector
[ -x "$bin" ] || { echo "$bin: not built" >&2; exit 1; }

layout=$out/tilsyn-collector-oci
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$layout"
mkdir -p "$out"
umoci init --layout "$layout"
umoci new --image "$layout:$version"
umoci unpack --image "$layout:$version" "$work/bundle" >/dev/null
rootfs=$work/bundle/rootfs

# The binary and exactly the libraries it is linked against (their paths as on this build
# machine, where the dynamic loader looks for them).
install -D -m 0755 "$bin" "$rootfs/usr/bin/tilsyn-collector"
for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
    install -D -m 0755 "$(realpath "$lib")" "$rootfs$lib"
done

# Users, configuration, shipped standards and examples, data volume, scratch space.
install -d -m 0755 "$rootfs/etc" "$rootfs/run/secrets"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\ntilsyn:x:10001:10001:Tilsyn collector:/var/lib/tilsyn-collector:/usr/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\ntilsyn:x:10001:\n' >"$rootfs/etc/group"
install -D -m 0644 packaging/container/collector.yaml "$rootfs/etc/tilsyn/collector.yaml"
install -d -m 0755 "$rootfs/etc/tilsyn/standards" "$rootfs/usr/share/tilsyn/standards"
install -m 0644 configs/standards/*.yaml "$rootfs/etc/tilsyn/standards/"
install -m 0644 configs/standards/* "$rootfs/usr/share/tilsyn/standards/"
install -m 0644 configs/sla.yaml configs/maintenance.yaml "$rootfs/usr/share/tilsyn/"
install -D -m 0644 LICENSE "$rootfs/usr/share/doc/tilsyn-collector/LICENSE"
install -d -m 0750 -o 10001 -g 10001 "$rootfs/var/lib/tilsyn-collector"
install -d -m 1777 "$rootfs/tmp"

umoci repack --image "$layout:$version" "$work/bundle" >/dev/null
umoci config --image "$layout:$version" \
    --config.user 10001:10001 \
    --config.entrypoint /usr/bin/tilsyn-collector \
    --config.cmd run --config.cmd --config --config.cmd /etc/tilsyn/collector.yaml \
    --config.workingdir /var/lib/tilsyn-collector \
    --config.volume /var/lib/tilsyn-collector \
    --config.exposedports 7443/tcp --config.exposedports 7480/tcp \
    --config.stopsignal SIGTERM \
    --config.label org.opencontainers.image.title=tilsyn-collector \
    --config.label org.opencontainers.image.version="$version" \
    --config.label org.opencontainers.image.licenses=Apache-2.0 \
    --config.label org.opencontainers.image.description="Tilsyn collector: agents in, incidents, metrics and API out" \
    --config.label io.tilsyn.healthcheck="tilsyn-collector health" \
    --history.created_by "packaging/image.sh"
umoci gc --layout "$layout"
tar -C "$layout" -cf "$out/tilsyn-collector-$version.oci.tar" .
echo "$layout:$version"
echo "$out/tilsyn-collector-$version.oci.tar"
