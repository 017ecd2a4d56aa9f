package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/errs"
)

type fieldsData struct {
	Fields []contact.FieldDef
	Types  []string
}

func fieldFromForm(r *http.Request) contact.FieldDef {
	return contact.FieldDef{Name: r.PostFormValue("name"), Type: r.PostFormValue("type"), Options: strings.Split(r.PostFormValue("options"), ","),
		Required: r.PostFormValue("required") != "", Default: r.PostFormValue("default")}
}

func (s *Server) renderFields(w http.ResponseWriter, r *http.Request, status int, form, fieldErrs map[string]string, msg string) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	defs, err := s.Contacts.Fields(r.Context(), a, ws.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.pageFor(r, "Custom fields", &page{Section: "fields", Data: fieldsData{Fields: defs, Types: contact.FieldTypes}, Form: form, Errors: fieldErrs, Error: msg})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, status, "fields", "", p)
}

func (s *Server) fieldsShow(w http.ResponseWriter, r *http.Request) {
	s.renderFields(w, r, http.StatusOK, map[string]string{"type": "text"}, nil, "")
}

func (s *Server) fieldCreate(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	form := formOf(r, "name", "type", "options", "required", "default", "global")
	_, err := s.Contacts.CreateField(r.Context(), a, ws.ID, fieldFromForm(r), form["global"] != "")
	if fe := fieldErrors(err); fe != nil {
		s.renderFields(w, r, statusOfErr(err), form, fe, "")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Field added.")
	seeOther(w, r, "/w/"+ws.ID+"/fields")
}

func (s *Server) fieldUpdate(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	_, err := s.Contacts.UpdateField(r.Context(), a, ws.ID, chi.URLParam(r, "field"), fieldFromForm(r))
	if k := errs.KindOf(err); k == errs.Invalid || k == errs.Conflict {
		s.renderFields(w, r, statusOfErr(err), map[string]string{"type": "text"}, nil, errs.As(err).Error())
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Field saved.")
	seeOther(w, r, "/w/"+ws.ID+"/fields")
}

func (s *Server) fieldDelete(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	n, err := s.Contacts.DeleteField(r.Context(), a, ws.ID, chi.URLParam(r, "field"), r.PostFormValue("confirm") != "")
	if errs.KindOf(err) == errs.Invalid {
		s.renderFields(w, r, http.StatusUnprocessableEntity, map[string]string{"type": "text"}, nil, errs.As(err).Fields["confirm"])
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Field deleted with its "+strconv.Itoa(n)+" values.")
	seeOther(w, r, "/w/"+ws.ID+"/fields")
}

func (s *Server) contactCustom(r *http.Request, a auth.Actor, wsID, id string) error {
	_ = r.ParseForm()
	values := map[string]string{}
	for k, v := range r.PostForm {
		if fid, ok := strings.CutPrefix(k, "custom."); ok && len(v) > 0 {
			values[fid] = v[len(v)-1] // a checkbox sends a hidden "false" first
		}
	}
	return s.Contacts.SetCustom(r.Context(), a, wsID, id, values)
}
