package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// insightAct answers an insight's buttons: act (make its to-do, or go
// where its action is done), dismiss, and the feedback pair.
func (s *Server) insightAct(act string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ws, _ := workspaceFrom(r.Context())
		a, _ := actorFrom(r.Context())
		id := chi.URLParam(r, "insight")
		var err error
		msg, to := "", backTo(r, ws.ID)
		switch act {
		case "act":
			var where string
			if where, err = s.Insights.Act(r.Context(), a, ws.ID, id); err == nil && where != "" {
				if where == "/w/"+ws.ID+"/todos" {
					msg = "To-do added."
				} else {
					to = where
				}
			}
		case "dismiss":
			err, msg = s.Insights.Dismiss(r.Context(), a, ws.ID, id), "Dismissed: it comes back only if its facts change."
		case "useful", "not-useful":
			err, msg = s.Insights.Feedback(r.Context(), a, ws.ID, id, act == "useful"), "Thanks: your feedback is kept."
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if msg != "" {
			s.flash(w, r, msg)
		}
		seeOther(w, r, to)
	}
}
