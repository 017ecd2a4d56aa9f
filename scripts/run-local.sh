#!/usr/bin/env bash
# Starts the whole appliance locally against ./var (see `make run`):
# migrate, seed the demo users once, then the four daemons; Ctrl-C stops all.
set -euo pipefail
umask 077 # the data folder too, not only what the binaries make in it
cd "$(dirname "$0")/.."
export PICRM_DATA_DIR="${PICRM_DATA_DIR:-$PWD/var}"
mkdir -p "$PICRM_DATA_DIR"

./bin/crmctl migrate
./bin/crmctl demo --if-empty --contacts 300 --activities 3000 >/dev/null
# A first local snapshot, so crm-health's backup check starts green; no
# bucket and no backup drive here, so it stays in ./var/backups.
ls "${PICRM_BACKUP_DIR:-$PICRM_DATA_DIR/backups}"/pi-crm-*.db.zst* >/dev/null 2>&1 || ./bin/crmctl backup snapshot >/dev/null

pids=()
stop() {
	trap - INT TERM EXIT
	echo
	echo "stopping…"
	kill -TERM "${pids[@]}" 2>/dev/null || true
	wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM EXIT

for d in crm-web crm-sender crm-insights crm-health; do
	./bin/$d &
	pids+=($!)
done

sleep 0.5
addr="${PICRM_HTTP_ADDR:-127.0.0.1:8080}"
cat <<MSG

  pi-crm is running at http://$addr/

  Log in as (also in $PICRM_DATA_DIR/demo-logins.txt):
$(sed 's/^/    /' "$PICRM_DATA_DIR/demo-logins.txt" 2>/dev/null || echo "    (no demo logins: the database had users already)")

  Ctrl-C stops every daemon.

MSG
# Exit as soon as any daemon dies, taking the others down with it.
wait -n "${pids[@]}"
