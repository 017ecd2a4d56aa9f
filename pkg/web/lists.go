package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/list"
)

type listsData struct {
	Stages, Tags []list.List
}

func (s *Server) listsShow(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	stages, tags, err := s.listsOf(r, ws.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.pageFor(r, "Stages and tags", &page{Section: "lists", Data: listsData{stages, tags}, Form: map[string]string{}})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, http.StatusOK, "lists", "", p)
}

func (s *Server) listCreate(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	form := formOf(r, "kind", "name")
	_, err := s.Lists.Create(r.Context(), a, ws.ID, list.Kind(form["kind"]), form["name"])
	if fe := fieldErrors(err); fe != nil {
		stages, tags, lerr := s.listsOf(r, ws.ID)
		if lerr != nil {
			s.fail(w, r, lerr)
			return
		}
		s.render(w, r, statusOfErr(err), "lists", "", s.pageFor(r, "Stages and tags", &page{Section: "lists", Data: listsData{stages, tags}, Form: form, Errors: fe}))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Added.")
	seeOther(w, r, "/w/"+ws.ID+"/lists")
}

func (s *Server) listRename(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	err := s.Lists.Rename(r.Context(), a, ws.ID, chi.URLParam(r, "list"), r.PostFormValue("name"))
	if fe := fieldErrors(err); fe != nil {
		s.flash(w, r, fe["name"])
		seeOther(w, r, "/w/"+ws.ID+"/lists")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Renamed.")
	seeOther(w, r, "/w/"+ws.ID+"/lists")
}

func (s *Server) listDelete(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	if err := s.Lists.Delete(r.Context(), a, ws.ID, chi.URLParam(r, "list")); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Deleted.")
	seeOther(w, r, "/w/"+ws.ID+"/lists")
}

func (s *Server) listMove(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	delta := 1
	if r.PostFormValue("dir") == "up" {
		delta = -1
	}
	if err := s.Lists.Move(r.Context(), a, ws.ID, chi.URLParam(r, "list"), delta); err != nil {
		s.fail(w, r, err)
		return
	}
	seeOther(w, r, "/w/"+ws.ID+"/lists")
}
