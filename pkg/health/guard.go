package health

import (
	"context"
	"log/slog"
	"time"

	"github.com/pi-crm/pi-crm/pkg/logkey"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// DataCheck is the check that fails when the marker says the appliance has
// data and the database is not there (the encrypted data volume did not
// mount).
const DataCheck = "data_volume"

// DataResult is the data check. It only looks: it must not open (and so
// create) a database that is missing.
func DataResult(cfg Config) Result {
	if err := store.CheckData(cfg.DB, cfg.DataMarker); err != nil {
		return fail(DataCheck, "missing", "%v", err)
	}
	if cfg.DataMarker == "" {
		return skip(DataCheck, "no PICRM_DATA_MARKER")
	}
	return ok(DataCheck, "present")
}

// Guard is crm-health while the database is missing although the appliance
// has data: the other daemons refuse to start (their units need the data
// volume, and they refuse an empty database), so crm-health stays up
// without opening anything, reports picrm_check_ok{check="data_volume"} 0,
// mails the alert (once a day at most, remembered in memory: the alert
// ledger is in the missing database) and checks again every interval. It
// returns nil when the database is back, for the caller to restart into
// its normal loop, or ctx's error. pet is called each round for the
// watchdog.
func Guard(ctx context.Context, cfg Config, log *slog.Logger, metrics *Metrics, every time.Duration, pet func()) error {
	alerter := NewAlerter(cfg.Alert, nil, log, metrics)
	t := time.NewTicker(every)
	defer t.Stop()
	logged := false
	for {
		r := DataResult(cfg)
		if metrics != nil {
			metrics.record([]Result{r})
		}
		if r.OK {
			log.Info("the database is back; restarting into the normal checks")
			return nil
		}
		if !logged {
			log.Error("check failed", logkey.Check, r.Check, logkey.Detail, r.Detail)
			logged = true
		}
		if _, err := alerter.Notify(ctx, []Result{r}); err != nil {
			log.Error("alerts", logkey.Err, err)
		}
		pet()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
