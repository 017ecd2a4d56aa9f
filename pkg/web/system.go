package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/migrations"
	"github.com/pi-crm/pi-crm/pkg/backup/ledger"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/heartbeat"
	"github.com/pi-crm/pi-crm/pkg/logkey"
)

// staleAfter is when the System page calls a daemon silent: four missed
// 15-second beats.
const staleAfter = time.Minute

type systemData struct {
	Version    string
	PID        int
	Started    time.Time
	Beats      []heartbeat.Beat
	MaxAge     time.Duration
	Schema     int
	DBSize     string
	CanBackup  bool
	Runs       []ledger.Run
	ActiveRun  *ledger.Run // queued or running: the button is off
	ShowRun    *ledger.Run // the run whose progress or outcome shows
	LastBackup time.Time
	// Replicated says a bucket is configured, so changes stream off the Pi.
	Replicated bool
}

func (s *Server) system(w http.ResponseWriter, r *http.Request) {
	beats, err := heartbeat.List(r.Context(), s.DB)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.DB.SchemaVersion(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := systemData{Version: s.Version, PID: s.pid, Started: s.started, Beats: beats, MaxAge: staleAfter, Schema: v, DBSize: "unknown", Replicated: s.Replicated}
	if st, err := os.Stat(s.DB.Path()); err == nil {
		d.DBSize = fmt.Sprintf("%.1f MB", float64(st.Size())/1e6)
	}
	if s.Backups != nil {
		d.CanBackup = s.StartBackup != nil
		if d.Runs, err = s.Backups.Latest(r.Context(), 5); err != nil {
			s.fail(w, r, err)
			return
		}
		for i, run := range d.Runs {
			if run.Status == "queued" || run.Status == "running" {
				d.ActiveRun = &d.Runs[i]
				break
			}
		}
		// The outcome of a "Backup now" someone pressed stays in view for a
		// while after it ends; a nightly or command-line run is in the
		// list below, not announced to whoever opens the page next.
		d.ShowRun = d.ActiveRun
		if d.ShowRun == nil && len(d.Runs) > 0 && d.Runs[0].Trigger == "manual" && time.Since(d.Runs[0].FinishedAt) < 10*time.Minute {
			d.ShowRun = &d.Runs[0]
		}
		if d.LastBackup, err = s.Backups.LastSuccess(r.Context()); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.render(w, r, http.StatusOK, "system", "", s.pageFor(r, "System", &page{Section: "system", Data: d, Flash: s.takeFlash(w, r)}))
}

// backupNow queues a snapshot run and starts it; the System page then shows
// its progress. A second press while one runs says so instead.
func (s *Server) backupNow(w http.ResponseWriter, r *http.Request) {
	if s.Backups == nil || s.StartBackup == nil {
		s.fail(w, r, errs.NotFoundf("no backups here"))
		return
	}
	a, _ := actorFrom(r.Context())
	if _, err := s.Backups.Request(r.Context(), a.UserID, clientIP(r)); err != nil {
		if errors.Is(err, ledger.ErrBusy) {
			s.flash(w, r, "A backup is already running; its progress is below.")
			http.Redirect(w, r, "/system", http.StatusSeeOther)
			return
		}
		s.fail(w, r, err)
		return
	}
	s.StartBackup()
	s.flash(w, r, "Backup started.")
	http.Redirect(w, r, "/system", http.StatusSeeOther)
}

// backupProgress is the htmx fragment the progress bar polls while a run
// is queued or running; a finished run's fragment stops the polling.
func (s *Server) backupProgress(w http.ResponseWriter, r *http.Request) {
	if s.Backups == nil {
		s.fail(w, r, errs.NotFoundf("no backups here"))
		return
	}
	run, found, err := s.Backups.Get(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !found {
		s.fail(w, r, errs.NotFoundf("no such backup"))
		return
	}
	// Once the run ends, the live fragment asks once for the refreshed
	// Backups section; the page's own copy of the fragment never does.
	s.render(w, r, http.StatusOK, "system", "backup-progress-live", s.pageFor(r, "System", &page{Section: "system", Data: &run}))
}

// healthz answers 200 when the database answers and has this build's
// schema, 503 otherwise; the body says which, for people and for crm-health.
// diskFullBelow is the free space under which /healthz calls the disk
// full: a few import batches' worth of pages.
const diskFullBelow = 16 << 20

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	type health struct {
		Status        string `json:"status"`
		DB            string `json:"db"`
		SchemaVersion int    `json:"schema_version"`
		SchemaWanted  int    `json:"schema_wanted"`
		Disk          string `json:"disk"`
		DiskFree      int64  `json:"disk_free_bytes"`
		Version       string `json:"version"`
	}
	h := health{Status: "ok", DB: "ok", Disk: "ok", SchemaWanted: migrations.Version(), Version: s.Version}
	code := http.StatusOK
	// A full disk lets pages be read but no change be saved: say so here,
	// where a monitor looks, before users find out one failed save at a
	// time.
	if free, _, err := s.DB.DiskFree(); err != nil {
		h.Status, h.Disk, code = "fail", "unknown", http.StatusServiceUnavailable
	} else if h.DiskFree = free; free < diskFullBelow {
		h.Status, h.Disk, code = "fail", "full", http.StatusServiceUnavailable
	}
	if err := s.DB.Ping(r.Context()); err != nil {
		h.Status, h.DB, code = "fail", "unreachable", http.StatusServiceUnavailable
		s.Log.Warn("healthz: database unreachable", logkey.Err, err)
	} else if v, err := s.DB.SchemaVersion(r.Context()); err != nil || v != h.SchemaWanted {
		h.SchemaVersion = v
		h.Status, code = "fail", http.StatusServiceUnavailable
	} else {
		h.SchemaVersion = v
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(h)
}
