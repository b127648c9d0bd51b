# %postun of both packages: systemd forgets a removed unit / reads a changed one.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
exit 0
