package web

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"zombiezen.com/go/sqlite"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/events"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// attentionEmailDone marks an inbound email of the workspace done.
func (s *Server) attentionEmailDone(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	provider, id := chi.URLParam(r, "provider"), r.PostFormValue("id")
	found := false
	err := workspace.Write(r.Context(), s.DB, a, ws.ID, func(conn *sqlite.Conn) error {
		var err error
		if found, err = events.EmailDone(conn, ws.ID, provider, id, time.Now()); err != nil || !found {
			return err
		}
		return audit.Record(conn, a.Audit("attention.done", "inbound_email", provider+":"+id, map[string]any{"workspace_id": ws.ID}))
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !found {
		http.NotFound(w, r)
		return
	}
	seeOther(w, r, "/w/"+ws.ID)
}

// attentionTextDone marks a text from an unknown number done. Such texts
// belong to the appliance's number, which the household shares.
func (s *Server) attentionTextDone(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	sid := r.PostFormValue("sid")
	found := false
	err := s.DB.Write(r.Context(), func(conn *sqlite.Conn) error {
		var err error
		if found, err = events.TextDone(conn, sid, time.Now()); err != nil || !found {
			return err
		}
		return audit.Record(conn, a.Audit("attention.done", "inbound_text", sid, nil))
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !found {
		http.NotFound(w, r)
		return
	}
	seeOther(w, r, "/w/"+ws.ID)
}
