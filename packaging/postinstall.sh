#!/bin/sh
# Create the pi-crm user and let systemd see the new units. Nothing is
# enabled or started here: Ansible does that once the configuration and
# the credentials are in place.
set -e
if command -v systemd-sysusers >/dev/null 2>&1; then
	systemd-sysusers /usr/lib/sysusers.d/pi-crm.conf
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
