package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/pi-crm/pi-crm/migrations"
	"github.com/pi-crm/pi-crm/pkg/heartbeat"
)

// staleAfter is when the System page calls a daemon silent: four missed
// 15-second beats.
const staleAfter = time.Minute

type systemData struct {
	Version string
	PID     int
	Started time.Time
	Beats   []heartbeat.Beat
	MaxAge  time.Duration
	Schema  int
	DBSize  string
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
	d := systemData{Version: s.Version, PID: s.pid, Started: s.started, Beats: beats, MaxAge: staleAfter, Schema: v, DBSize: "unknown"}
	if st, err := os.Stat(s.DB.Path()); err == nil {
		d.DBSize = fmt.Sprintf("%.1f MB", float64(st.Size())/1e6)
	}
	s.render(w, r, http.StatusOK, "system", "", s.pageFor(r, "System", &page{Section: "system", Data: d}))
}

// healthz answers 200 when the database answers and has this build's
// schema, 503 otherwise; the body says which, for people and for crm-health.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	type health struct {
		Status        string `json:"status"`
		DB            string `json:"db"`
		SchemaVersion int    `json:"schema_version"`
		SchemaWanted  int    `json:"schema_wanted"`
		Version       string `json:"version"`
	}
	h := health{Status: "ok", DB: "ok", SchemaWanted: migrations.Version(), Version: s.Version}
	code := http.StatusOK
	if err := s.DB.Ping(r.Context()); err != nil {
		h.Status, h.DB, code = "fail", "unreachable", http.StatusServiceUnavailable
		s.Log.Warn("healthz: database unreachable", "err", err)
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
