#!/bin/sh
# Run by the tilsyn-collector package (deb postinst, rpm %post) once the service user
# exists: a random enrollment token for the shipped config's department and a scrape
# token for Prometheus (http.auth.tokens) when they have none yet, and the database schema brought up to this version before the service starts
# again. Idempotent; never prints a token.
set -e

tokens=/etc/tilsyn/tokens
install -d -m 0750 -o root -g tilsyn-collector "$tokens"
for name in it-operations prometheus; do
    f="$tokens/$name.token"
    if [ ! -e "$f" ]; then
        umask 027
        # 32 hex digits from the kernel's generator (od is in coreutils everywhere).
        od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$f.tmp"
        echo >> "$f.tmp"
        chgrp tilsyn-collector "$f.tmp"
        chmod 0640 "$f.tmp"
        mv "$f.tmp" "$f"
    fi
done

# Upgrade the schema now (the service was stopped for the upgrade), as the service user,
# so the database stays its. A problem is printed, and `systemctl status tilsyn-collector`
# shows it again: the installation itself goes on.
if ! runuser -u tilsyn-collector -- /usr/bin/tilsyn-collector migrate \
        --config /etc/tilsyn/collector.yaml >/dev/null; then
    echo "tilsyn-collector: the database schema was not upgraded (see above); fix the configuration and run 'runuser -u tilsyn-collector -- tilsyn-collector migrate'" >&2
fi
