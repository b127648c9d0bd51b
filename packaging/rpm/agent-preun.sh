# tilsyn-agent %preun ($1: 0 erase, 1 upgrade): stop and disable on erase only. The
# identity, spool and patch-age memory in /var/lib/tilsyn-agent stay (rpm has no purge:
# delete the directory to forget this machine's identity).
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
    systemctl --no-reload disable --now tilsyn-agent.service >/dev/null 2>&1 || :
fi
exit 0
