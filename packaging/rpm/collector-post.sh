# tilsyn-collector %post ($1: 1 install, 2 upgrade): tokens and schema, then the service.
install -d -m 0750 -o tilsyn-collector -g tilsyn-collector /var/lib/tilsyn-collector
was_active=
if [ -d /run/systemd/system ]; then
    if [ "$1" -ge 2 ] && systemctl is-active --quiet tilsyn-collector.service; then
        was_active=1
        systemctl stop tilsyn-collector.service
    fi
    systemctl daemon-reload
fi
/usr/share/tilsyn/collector-setup.sh || :
if [ -d /run/systemd/system ]; then
    [ "$1" -eq 1 ] && systemctl preset tilsyn-collector.service >/dev/null 2>&1 || :
    [ -n "$was_active" ] && systemctl start tilsyn-collector.service || :
fi
exit 0
