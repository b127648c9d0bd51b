# tilsyn-collector %pre: the service's own system user.
getent group tilsyn-collector >/dev/null || groupadd -r tilsyn-collector
getent passwd tilsyn-collector >/dev/null || \
    useradd -r -g tilsyn-collector -d /var/lib/tilsyn-collector -M -s /sbin/nologin \
        -c "Tilsyn collector" tilsyn-collector
exit 0
