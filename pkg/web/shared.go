package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
)

type sharedData struct {
	Share contact.Share
}

type sharedListData struct {
	Contacts  []contact.Share
	Templates []emailtemplate.Shared
}

func (s *Server) sharedList(w http.ResponseWriter, r *http.Request) {
	a, _ := actorFrom(r.Context())
	list, err := s.Contacts.SharedWithMe(r.Context(), a)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	templates, err := s.Templates.SharedWithMe(r.Context(), a)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "shared", "", s.pageFor(r, "Shared with me", &page{Section: "shared", Data: sharedListData{Contacts: list, Templates: templates}}))
}

func (s *Server) sharedShow(w http.ResponseWriter, r *http.Request) {
	a, _ := actorFrom(r.Context())
	sh, err := s.Contacts.GetShared(r.Context(), a, chi.URLParam(r, "contact"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.pageFor(r, sh.Contact.Name(), &page{Section: "shared", Data: sharedData{Share: sh}})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, http.StatusOK, "shared_contact", "", p)
}

func (s *Server) sharedSaveAs(w http.ResponseWriter, r *http.Request) {
	a, _ := actorFrom(r.Context())
	wsID := r.PostFormValue("workspace_id")
	c, err := s.Contacts.SaveAs(r.Context(), a, chi.URLParam(r, "contact"), wsID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Saved a copy into your workspace.")
	seeOther(w, r, "/w/"+wsID+"/contacts/"+c.ID)
}
