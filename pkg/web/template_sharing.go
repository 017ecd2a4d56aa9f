package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/errs"
)

// failedBack answers an action's err and reports whether there was one: a
// refusal (Invalid or Conflict) goes back to the page back with refused
// and the reason as the flash; anything else fails as usual.
func (s *Server) failedBack(w http.ResponseWriter, r *http.Request, err error, refused, back string) bool {
	if k := errs.KindOf(err); k == errs.Invalid || k == errs.Conflict {
		s.flash(w, r, refused+errs.As(err).Error())
		seeOther(w, r, back)
		return true
	}
	if err != nil {
		s.fail(w, r, err)
		return true
	}
	return false
}

// templateAction runs fn on the template of the URL and goes back to its
// editor with done as the flash, or the refusal's reason.
func (s *Server) templateAction(fn func(r *http.Request, wsID, id string) error, done string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ws, _ := workspaceFrom(r.Context())
		id := chi.URLParam(r, "tpl")
		err := fn(r, ws.ID, id)
		if s.failedBack(w, r, err, "Not done: ", "/w/"+ws.ID+"/templates/"+id) {
			return
		}
		s.flash(w, r, done)
		seeOther(w, r, "/w/"+ws.ID+"/templates/"+id)
	}
}

func (s *Server) templateShare(r *http.Request, wsID, id string) error {
	a, _ := actorFrom(r.Context())
	return s.Templates.ShareWith(r.Context(), a, wsID, id, r.PostFormValue("viewer_id"))
}

func (s *Server) templateUnshare(r *http.Request, wsID, id string) error {
	a, _ := actorFrom(r.Context())
	return s.Templates.Unshare(r.Context(), a, wsID, id, chi.URLParam(r, "user"))
}

func (s *Server) templateFavorite(r *http.Request, wsID, id string) error {
	a, _ := actorFrom(r.Context())
	_, err := s.Templates.AddFavorite(r.Context(), a, wsID, id)
	return err
}

type sharedTemplateData struct {
	Shared emailtemplate.Shared
	Email  emailtemplate.Email
}

func (s *Server) sharedTemplate(r *http.Request) (sharedTemplateData, error) {
	a, _ := actorFrom(r.Context())
	sh, err := s.Templates.GetShared(r.Context(), a, chi.URLParam(r, "tpl"))
	if err != nil {
		return sharedTemplateData{}, err
	}
	// Rendered with no contact: the fallbacks show, and the owner's
	// contacts stay theirs.
	e, err := emailtemplate.Render(sh.Template, emailtemplate.Values(emptyContact, nil, s.sender(r), emailtemplate.PreviewUnsubscribe), nil)
	return sharedTemplateData{Shared: sh, Email: e}, err
}

func (s *Server) sharedTemplateShow(w http.ResponseWriter, r *http.Request) {
	d, err := s.sharedTemplate(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.pageFor(r, d.Shared.Template.Name, &page{Section: "shared", Data: d})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, http.StatusOK, "shared_template", "", p)
}

func (s *Server) sharedTemplateFrame(w http.ResponseWriter, r *http.Request) {
	d, err := s.sharedTemplate(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeEmailFrame(w, d.Email.HTML)
}

func (s *Server) sharedTemplateSaveAs(w http.ResponseWriter, r *http.Request) {
	a, _ := actorFrom(r.Context())
	wsID := r.PostFormValue("workspace_id")
	t, err := s.Templates.SaveAs(r.Context(), a, chi.URLParam(r, "tpl"), wsID)
	if s.failedBack(w, r, err, "Not saved: ", "/shared/templates/"+chi.URLParam(r, "tpl")) {
		return
	}
	s.flash(w, r, "Saved a copy into your workspace.")
	seeOther(w, r, "/w/"+wsID+"/templates/"+t.ID)
}

func (s *Server) favoritesShow(w http.ResponseWriter, r *http.Request) {
	a, _ := actorFrom(r.Context())
	favs, err := s.Templates.Favorites(r.Context(), a)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.pageFor(r, "Favorite templates", &page{Section: "favorites", Data: favs})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, http.StatusOK, "favorites", "", p)
}

func (s *Server) favoritePush(w http.ResponseWriter, r *http.Request) {
	a, _ := actorFrom(r.Context())
	wsID := r.PostFormValue("workspace_id")
	t, err := s.Templates.PushFavorite(r.Context(), a, chi.URLParam(r, "fav"), wsID)
	if s.failedBack(w, r, err, "Not copied: ", "/favorites") {
		return
	}
	s.flash(w, r, "Copied into the workspace as “"+t.Name+"”.")
	seeOther(w, r, "/w/"+wsID+"/templates/"+t.ID)
}

func (s *Server) favoriteDelete(w http.ResponseWriter, r *http.Request) {
	a, _ := actorFrom(r.Context())
	if err := s.Templates.RemoveFavorite(r.Context(), a, chi.URLParam(r, "fav")); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Removed from Favorites.")
	seeOther(w, r, "/favorites")
}
