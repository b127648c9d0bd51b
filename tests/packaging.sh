#!/usr/bin/env bash
# The packages, tested as an operations team uses them (README, "Tests: packages"):
#
#   tests/packaging.sh [PACKAGES_DIR]
#
# 1. builds the deb and rpm packages twice (packaging/build.sh: revision 1, and revision 2
#    from the same binaries, for the upgrade) unless PACKAGES_DIR already holds both;
# 2. lintian on the debs and rpmlint on the rpms, failing on any tag not explained in
#    packaging/deb/lintian-overrides/ or packaging/rpm/rpmlint.toml; the rpms' file list,
#    config flags, scriptlets (sh -n) and dependencies checked; systemd-analyze verify and
#    security on both units;
# 3. a clean Debian 12 root (debootstrap, cached in $TILSYN_CACHE, default
#    /var/cache/tilsyn-ci): the collector deb installed and started from the package as its
#    own user; the agent deb installed with the collector, CA and token in the environment,
#    so it enrolls during installation; this root's inventory arrives; upgraded to revision 2
#    with the collector away: identity, spool and edited configs survive and the spooled
#    reports arrive afterwards; remove keeps the data, purge deletes it.
#
# Needs root (chroot, mount namespace), debootstrap, lintian, rpmlint, rpm; .ci/run installs
# them. Everything runs on 127.0.0.1 in a private temporary directory, removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = --inside ]; then
    inside=1
    shift
else
    inside=0
fi

say() { printf '\n== %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------
# Part 3 runs in a private mount and PID namespace (its /proc mount and every process it
# starts end with it); parts 1 and 2 call it.
if [ "$inside" = 1 ]; then
    work=$1
    R=$work/root
    mount -t proc proc "$R/proc"
    mount -t sysfs sysfs "$R/sys"
    in_root() { chroot "$R" "$@"; }
    api() { curl -fsS "http://127.0.0.1:$http/api/v1$1"; }
    json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
    wait_until() { # SECONDS WHAT COMMAND...
        local limit=$1 what=$2 i
        shift 2
        for ((i = 0; i < limit * 4; i++)); do
            if "$@" >/dev/null 2>&1; then return 0; fi
            sleep 0.25
        done
        echo "timed out after ${limit}s waiting for $what" >&2
        return 1
    }
    start_collector() {
        # As the package's service user, as the unit runs it.
        # chroot execs the program, so $! is the collector itself.
        chroot --userspec=tilsyn-collector:tilsyn-collector "$R" /usr/bin/tilsyn-collector run \
            --config /etc/tilsyn/collector.yaml >>"$work/collector.log" 2>&1 &
        collector_pid=$!
    }
    stop_collector() { kill "$collector_pid"; wait "$collector_pid" || true; }
    start_agent() {
        chroot "$R" /usr/bin/tilsyn-agent run --config /etc/tilsyn/agent.yaml >>"$work/agent.log" 2>&1 &
        agent_pid=$!
    }
    stop_agent() { kill "$agent_pid"; wait "$agent_pid" || true; }
    trap 'echo "--- collector log"; tail -20 "$work/collector.log" 2>/dev/null; echo "--- agent log"; tail -20 "$work/agent.log" 2>/dev/null' ERR

    v1=$(ls "$work"/v1/tilsyn-collector_*.deb) a1=$(ls "$work"/v1/tilsyn-agent_*.deb)
    v2=$(ls "$work"/v2/tilsyn-collector_*.deb) a2=$(ls "$work"/v2/tilsyn-agent_*.deb)
    cp "$v1" "$a1" "$v2" "$a2" "$R/tmp/"
    deb() { echo "/tmp/$(basename "$1")"; }

    say "install the collector"
    in_root dpkg -i "$(deb "$v1")" >"$work/dpkg-collector.log" 2>&1 || { cat "$work/dpkg-collector.log"; fail "dpkg -i collector"; }
    in_root getent passwd tilsyn-collector >/dev/null || fail "no tilsyn-collector user"
    [ "$(in_root stat -c '%U %a' "/var/lib/tilsyn-collector")" = "tilsyn-collector 750" ] || fail "data directory owner/mode"
    [ "$(in_root stat -c '%G %a' "/etc/tilsyn/tokens/it-operations.token")" = "tilsyn-collector 640" ] || fail "token owner/mode"
    [ "$(wc -c <"$R/etc/tilsyn/tokens/it-operations.token")" -ge 33 ] || fail "token too short"
    [ "$(in_root stat -c '%G %a' "/etc/tilsyn/tokens/prometheus.token")" = "tilsyn-collector 640" ] || fail "scrape token owner/mode"
    [ "$(in_root stat -c %U "/var/lib/tilsyn-collector/tilsyn.db")" = tilsyn-collector ] || fail "database not made by migrate as the service user"
    # Output captured first: a `| grep -q` that leaves early is a SIGPIPE under pipefail.
    migrated=$(in_root runuser -u tilsyn-collector -- tilsyn-collector migrate) || fail "migrate"
    grep -q "schema version" <<<"$migrated" || fail "migrate: $migrated"
    in_root tilsyn-collector validate >/dev/null || fail "the packaged collector.yaml does not validate"
    [ -f "$R/usr/share/tilsyn/prometheus/tilsyn.rules.yml" ] && [ -f "$R/usr/share/tilsyn/sla.yaml" ] \
        && ls "$R"/usr/share/tilsyn/grafana/dashboards/*.json >/dev/null || fail "shipped examples missing"
    # An operator's edit: loopback, ports chosen by the kernel (pinned below).
    sed -i 's#listen: 0.0.0.0:7443#listen: 127.0.0.1:0#; s#listen: 127.0.0.1:7480#listen: 127.0.0.1:0#' "$R/etc/tilsyn/collector.yaml"
    start_collector
    wait_until 30 "the collector's ports" grep -q "collector listening" "$work/collector.log"
    line=$(sed -n 's/\x1b\[[0-9;]*m//g; /collector listening/{p;q}' "$work/collector.log")
    grpc=$(grep -o 'grpc=[^ ]*' <<<"$line" | sed 's/.*://')
    http=$(grep -o 'http=[^ ]*' <<<"$line" | sed 's/.*://')
    sed -i "0,/listen: 127.0.0.1:0/s##listen: 127.0.0.1:$grpc#; 0,/listen: 127.0.0.1:0/s##listen: 127.0.0.1:$http#" "$R/etc/tilsyn/collector.yaml"
    wait_until 30 "/readyz" curl -fsS "http://127.0.0.1:$http/readyz"

    say "install the agent, enrolling during installation"
    in_root env TILSYN_COLLECTOR_URL="https://127.0.0.1:$grpc" \
        TILSYN_COLLECTOR_CA=/var/lib/tilsyn-collector/tls/ca.pem \
        TILSYN_ENROLL_TOKEN_FILE=/etc/tilsyn/tokens/it-operations.token \
        dpkg -i "$(deb "$a1")" >"$work/dpkg-agent.log" 2>&1 || { cat "$work/dpkg-agent.log"; fail "dpkg -i agent"; }
    grep -q "enrolled as" "$work/dpkg-agent.log" || { cat "$work/dpkg-agent.log"; fail "the agent did not enroll at installation"; }
    [ -f "$R/var/lib/tilsyn-agent/agent-state.json" ] || fail "no identity"
    [ ! -e "$R/var/lib/tilsyn-agent/enroll.token" ] || fail "the token stayed on disk"
    [ "$(in_root stat -c %a "/var/lib/tilsyn-agent")" = 700 ] || fail "state directory mode"
    id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent_id"])' "$R/var/lib/tilsyn-agent/agent-state.json")
    # An operator's edit of the agent's config.
    printf '\nlabels:\n  site: packaging-test\noverrides:\n  health_interval: 5s\n' >>"$R/etc/tilsyn/agent.yaml"
    sed -i 's/^labels: {}$//; s/^overrides: {}$//' "$R/etc/tilsyn/agent.yaml"
    in_root tilsyn-agent validate >/dev/null || fail "edited agent.yaml"

    say "this root's inventory arrives"
    start_agent
    packages=$(in_root dpkg-query -W -f '${Package}\n' | wc -l)
    has_root_inventory() {
        api "/hosts/$id" | json "d['state'] == 'online' and d['software_count'] == $packages and d['os_family'] == 'linux' and d['department'] == 'it-operations' or sys.exit(1)"
    }
    wait_until 90 "host $id online with this root's $packages packages" has_root_inventory \
        || { api "/hosts/$id" | head -c 600; echo; fail "inventory"; }
    [ "$(api /hosts | json "len(d['hosts'])")" = 1 ] || fail "more than one host"

    say "upgrade to revision 2 while the collector is away"
    stop_collector
    # Health keeps being collected and spooled while the collector is away.
    spooled() { [ "$(find "$R/var/lib/tilsyn-agent/spool" -name '*.rpt' | wc -l)" -ge 2 ]; }
    wait_until 60 "reports spooled" spooled
    stop_agent
    spool_before=$(find "$R/var/lib/tilsyn-agent/spool" -type f | sort | xargs sha256sum)
    identity_before=$(sha256sum <"$R/var/lib/tilsyn-agent/agent-state.json")
    agent_cfg_before=$(sha256sum <"$R/etc/tilsyn/agent.yaml")
    collector_cfg_before=$(sha256sum <"$R/etc/tilsyn/collector.yaml")
    in_root dpkg -i "$(deb "$v2")" "$(deb "$a2")" >"$work/dpkg-upgrade.log" 2>&1 || { cat "$work/dpkg-upgrade.log"; fail "upgrade"; }
    in_root dpkg-query -W -f '${Version}\n' tilsyn-agent tilsyn-collector | grep -c -- '-2$' | grep -qx 2 || fail "not at revision 2"
    [ "$(sha256sum <"$R/var/lib/tilsyn-agent/agent-state.json")" = "$identity_before" ] || fail "identity changed"
    [ "$(find "$R/var/lib/tilsyn-agent/spool" -type f | sort | xargs sha256sum)" = "$spool_before" ] || fail "spool changed"
    [ "$(sha256sum <"$R/etc/tilsyn/agent.yaml")" = "$agent_cfg_before" ] || fail "edited agent.yaml replaced"
    [ "$(sha256sum <"$R/etc/tilsyn/collector.yaml")" = "$collector_cfg_before" ] || fail "edited collector.yaml replaced"
    start_collector
    wait_until 30 "/readyz after the upgrade" curl -fsS "http://127.0.0.1:$http/readyz"
    last_seq_before=$(api "/hosts/$id" | json "d['last_seq']")
    start_agent
    spool_drained() {
        [ "$(find "$R/var/lib/tilsyn-agent/spool" -name '*.rpt' | wc -l)" = 0 ] \
            && [ "$(api "/hosts/$id" | json "d['last_seq'] > $last_seq_before and d['state'] == 'online' or sys.exit(1)")" = True ]
    }
    wait_until 60 "the spooled reports to arrive" spool_drained || fail "spool not delivered after the upgrade"
    [ "$(api /hosts | json "len(d['hosts'])")" = 1 ] || fail "the upgrade made a second host"
    stop_agent
    stop_collector

    say "remove keeps the data, purge deletes it"
    in_root dpkg -r tilsyn-agent tilsyn-collector >"$work/dpkg-remove.log" 2>&1 || { cat "$work/dpkg-remove.log"; fail "remove"; }
    [ -f "$R/var/lib/tilsyn-agent/agent-state.json" ] && [ -f "$R/var/lib/tilsyn-collector/tilsyn.db" ] \
        && [ -f "$R/etc/tilsyn/agent.yaml" ] || fail "remove deleted data or configs"
    in_root dpkg --purge tilsyn-agent tilsyn-collector >"$work/dpkg-purge.log" 2>&1 || { cat "$work/dpkg-purge.log"; fail "purge"; }
    for p in /var/lib/tilsyn-agent /var/lib/tilsyn-collector /etc/tilsyn /usr/bin/tilsyn-agent /usr/share/tilsyn; do
        [ ! -e "$R$p" ] || fail "$p is left after purge"
    done
    echo "packages: install, enroll, inventory, upgrade, remove and purge ok"
    exit 0
fi

# ---------------------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || { echo "tests/packaging.sh needs root (chroot, mounts)" >&2; exit 2; }
for t in debootstrap lintian rpmlint rpm curl python3 systemd-analyze; do
    command -v "$t" >/dev/null || { echo "tests/packaging.sh needs $t (.ci/run installs it)" >&2; exit 2; }
done

work=$(mktemp -d /tmp/tilsyn-packaging.XXXXXX)
cleanup() {
    # Processes and the proc mount live in the namespace and are gone with it.
    rm -rf "$work"
}
trap cleanup EXIT

given=${1:-}
if [ -n "$given" ]; then
    mkdir -p "$work/v1" "$work/v2"
    cp "$given"/*-1_*.deb "$given"/*-1.*.rpm "$work/v1/"
    cp "$given"/*-2_*.deb "$work/v2/"
else
    say "build the packages (revision 1, and 2 for the upgrade)"
    TILSYN_PACKAGE_REVISION=1 packaging/build.sh "$work/v1"
    SKIP_BUILD=1 TILSYN_PACKAGE_REVISION=2 packaging/build.sh "$work/v2"
fi

say "lintian"
# Overrides ship in the packages (/usr/share/lintian/overrides), each with its reason.
lintian --fail-on error,warning,info --info "$work"/v1/*.deb

say "rpmlint"
rpmlint -c packaging/rpm/rpmlint.toml "$work"/v1/*.rpm

say "the rpms: files, config flags, scriptlets, dependencies"
for pkg in agent collector; do
    rpm_file=$(ls "$work"/v1/tilsyn-$pkg-*.rpm)
    files=$(rpm -qp --qf '[%{FILENAMES} %{FILEFLAGS:fflags} %{FILEMODES:perms}\n]' "$rpm_file")
    grep -qx "/usr/bin/tilsyn-$pkg  -rwxr-xr-x" <<<"$files" || fail "$pkg rpm: /usr/bin/tilsyn-$pkg ($files)"
    grep -qx "/etc/tilsyn/$pkg.yaml cn -rw-r--r--" <<<"$files" || fail "$pkg rpm: /etc/tilsyn/$pkg.yaml must be %config(noreplace) ($files)"
    grep -qx "/usr/lib/systemd/system/tilsyn-$pkg.service  -rw-r--r--" <<<"$files" || fail "$pkg rpm: unit"
    grep -qx "/usr/share/man/man1/tilsyn-$pkg.1.gz d -rw-r--r--" <<<"$files" || fail "$pkg rpm: man page"
    requires=$(rpm -qpR "$rpm_file")
    grep -q '^libc.so.6' <<<"$requires" || fail "$pkg rpm: no libc dependency ($requires)"
    grep -q '^/bin/sh' <<<"$requires" || fail "$pkg rpm: scriptlets need /bin/sh"
    scripts=$(rpm -qp --scripts "$rpm_file")
    for phase in postinstall preuninstall postuninstall; do
        grep -q "^$phase scriptlet" <<<"$scripts" || fail "$pkg rpm: no $phase scriptlet"
    done
done
for s in packaging/rpm/*.sh packaging/scripts/*.sh packaging/deb/*/post*; do
    sh -n "$s" || fail "$s: syntax"
done
scripts=$(rpm -qp --scripts "$work"/v1/tilsyn-collector-*.rpm)
grep -q "useradd -r" <<<"$scripts" || fail "collector rpm: no system user"

say "systemd units"
# Offline, against a root holding both unpacked debs and the one system tool the units
# name besides our binaries (/bin/kill, procps: on every Debian and RHEL system).
mkdir -p "$work/units/bin"
for d in "$work"/v1/*.deb; do dpkg-deb -x "$d" "$work/units"; done
cp "$(type -P kill)" "$work/units/bin/kill"
for u in packaging/systemd/*.service; do
    if ! systemd-analyze verify --root="$work/units" --recursive-errors=no "$(basename "$u")" >"$work/verify.txt" 2>&1; then
        cat "$work/verify.txt"
        fail "systemd-analyze verify $u"
    fi
    # Warnings are printed even when verify passes: none allowed.
    if [ -s "$work/verify.txt" ]; then cat "$work/verify.txt"; fail "systemd-analyze verify $u"; fi
    systemd-analyze security --offline=true --threshold=30 "$u" | tail -1
done

say "a clean Debian 12 root"
cache=${TILSYN_CACHE:-/var/cache/tilsyn-ci}
if [ ! -d "$cache/bookworm-root" ]; then
    mkdir -p "$cache"
    rm -rf "$cache/bookworm-root.tmp"
    debootstrap --variant=minbase --include=adduser bookworm "$cache/bookworm-root.tmp" \
        http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
    mv "$cache/bookworm-root.tmp" "$cache/bookworm-root"
fi
cp -a "$cache/bookworm-root" "$work/root"
# The root's own name resolution is the host's.
cp /etc/resolv.conf "$work/root/etc/resolv.conf" 2>/dev/null || true

unshare --mount --pid --fork --kill-child "$0" --inside "$work"
