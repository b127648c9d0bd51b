#!/usr/bin/env bash
# The collector's container image (packaging/image.sh), tested without a container engine:
#
#   tests/image.sh [OCI_LAYOUT:TAG]
#
# builds the image (unless given), unpacks it with umoci, and starts the collector from the
# unpacked root exactly as the image's config says (entrypoint, arguments, user, working
# directory, environment) as the non-root user it names, in private network, mount and PID
# namespaces; then `/readyz` must answer, the image's own health check
# (`tilsyn-collector health`) must pass, and the data must land in the volume.
#
# Needs root (namespaces, chroot), umoci, python3 and curl; .ci/run installs them.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "FAIL: $*" >&2; exit 1; }

if [ "${1:-}" = --inside ]; then
    bundle=$2
    rootfs=$bundle/rootfs
    ip link set lo up
    mount -t proc proc /proc
    # What the image's config says to run, as the runtime config umoci made from it.
    eval "$(python3 - "$bundle/config.json" <<'PY'
import json, shlex, sys
c = json.load(open(sys.argv[1]))
p = c["process"]
print("uid=%d gid=%d" % (p["user"]["uid"], p["user"]["gid"]))
print("cwd=%s" % shlex.quote(p.get("cwd", "/")))
print("args=(%s)" % " ".join(shlex.quote(a) for a in p["args"]))
print("envs=(%s)" % " ".join(shlex.quote(e) for e in p.get("env", [])))
PY
)"
    [ "$uid" != 0 ] || fail "the image runs as root"
    # A department token, as a secret mounted in /run/secrets.
    mount -t tmpfs -o mode=0755 tmpfs "$rootfs/run/secrets"
    od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$rootfs/run/secrets/it-operations.token"
    chmod 0444 "$rootfs/run/secrets/it-operations.token"
    mkdir -p "$rootfs/dev" && mount --rbind /dev "$rootfs/dev"
    [ ! -e "$rootfs/bin/sh" ] && [ ! -e "$rootfs/usr/bin/sh" ] || fail "the image has a shell"
    # As a runtime does it: enter the root, change to the working directory, drop to the
    # image's user and groups, exec the entrypoint with the image's environment.
    # (Replaces the calling shell: call it in the background or in a subshell.)
    exec_in_image() {
        exec python3 - "$rootfs" "$cwd" "$uid" "$gid" "$@" <<'PY'
import os, sys
root, cwd, uid, gid, *argv = sys.argv[1:]
env = dict(e.split("=", 1) for e in os.environ.get("IMAGE_ENV", "").split("\n") if "=" in e)
os.chroot(root)
os.chdir(cwd)
os.setgroups([])
os.setgid(int(gid))
os.setuid(int(uid))
os.execve(argv[0], argv, env)
PY
    }
    export IMAGE_ENV
    IMAGE_ENV=$(printf '%s\n' "${envs[@]}")
    exec_in_image "${args[@]}" >"$bundle/collector.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 120); do
        curl -fsS http://127.0.0.1:7480/readyz >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || { cat "$bundle/collector.log"; fail "the collector exited"; }
        sleep 0.25
    done
    curl -fsS http://127.0.0.1:7480/readyz || { cat "$bundle/collector.log"; fail "/readyz"; }
    echo
    (exec_in_image /usr/bin/tilsyn-collector health --config /etc/tilsyn/collector.yaml) || fail "health check"
    owner=$(stat -c '%u' "$rootfs/var/lib/tilsyn-collector/tilsyn.db")
    [ "$owner" = "$uid" ] || fail "the database is owned by $owner, not the image's user $uid"
    [ -s "$rootfs/var/lib/tilsyn-collector/tls/ca.pem" ] || fail "no CA in the volume"
    [ "$(stat -c %u "/proc/$pid")" = "$uid" ] || fail "the collector does not run as the image's user $uid"
    kill "$pid"
    wait "$pid" || true
    echo "image: started as uid $uid from the unpacked image, /readyz and the health check answer"
    exit 0
fi

[ "$(id -u)" = 0 ] || { echo "tests/image.sh needs root (namespaces)" >&2; exit 2; }
for t in umoci python3 curl unshare ip; do
    command -v "$t" >/dev/null || { echo "tests/image.sh needs $t (.ci/run installs it)" >&2; exit 2; }
done
work=$(mktemp -d /tmp/tilsyn-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
image=${1:-}
if [ -z "$image" ]; then
    # Not `| head -1`: under pipefail, head leaving before image.sh's second line is written
    # kills image.sh with SIGPIPE (exit 141, seen in CI).
    built=$(packaging/image.sh "$work/out")
    image=${built%%$'\n'*}
fi
python3 - "${image%:*}" <<'PY' || fail "image config"
import json, sys, os
layout = sys.argv[1]
index = json.load(open(os.path.join(layout, "index.json")))
blob = lambda d: json.load(open(os.path.join(layout, "blobs", *d["digest"].split(":"))))
manifest = blob(index["manifests"][0])
config = blob(manifest["config"])["config"]
assert config["User"] == "10001:10001", config
assert "/var/lib/tilsyn-collector" in config["Volumes"], config
assert {"7443/tcp", "7480/tcp"} <= set(config["ExposedPorts"]), config
print("image config:", config["User"], config["Entrypoint"], config["Cmd"])
PY
umoci unpack --image "$image" "$work/bundle" >/dev/null
unshare --net --mount --pid --fork --kill-child "$0" --inside "$work/bundle"
