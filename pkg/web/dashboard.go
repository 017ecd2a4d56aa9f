package web

import (
	"net/http"
)

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	counts, err := s.Contacts.Count(r.Context(), a, ws.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.pageFor(r, ws.Name, &page{Data: counts})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, http.StatusOK, "dashboard", "", p)
}
