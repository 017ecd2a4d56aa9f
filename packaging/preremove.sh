#!/bin/sh
# Stop the appliance before its files go; the data in /var/lib/pi-crm stays.
set -e
if [ -d /run/systemd/system ]; then
	systemctl stop pi-crm.target litestream.service crm-snapshot.timer crm-snapshot.path >/dev/null 2>&1 || true
fi
