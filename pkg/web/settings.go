package web

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
)

func (s *Server) passwordShow(w http.ResponseWriter, r *http.Request) {
	p := s.pageFor(r, "Settings", &page{Section: "settings"})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, http.StatusOK, "settings_password", "", p)
}

func (s *Server) passwordChange(w http.ResponseWriter, r *http.Request) {
	a, _ := actorFrom(r.Context())
	token := tokenFrom(r.Context())
	revoke := r.PostFormValue("revoke_keys") != ""
	err := s.Auth.ChangePassword(r.Context(), a, r.PostFormValue("current_password"), r.PostFormValue("new_password"), token, revoke)
	if fe := fieldErrors(err); fe != nil {
		// Passwords are never echoed back into the form.
		s.render(w, r, statusOfErr(err), "settings_password", "", s.pageFor(r, "Settings", &page{Section: "settings", Errors: fe}))
		return
	}
	if e := errs.As(err); e.Kind == errs.TooMany {
		setRetryAfter(w, e)
		s.render(w, r, http.StatusTooManyRequests, "settings_password", "", s.pageFor(r, "Settings", &page{Section: "settings", Errors: map[string]string{"current_password": e.Message}}))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	msg := "Password changed. Your other sessions have ended."
	if revoke {
		msg = "Password changed. Your other sessions have ended and your API keys are revoked."
	}
	s.flash(w, r, msg)
	seeOther(w, r, "/settings/password")
}

type sessionsData struct {
	Sessions []auth.SessionInfo
}

func (s *Server) sessionsShow(w http.ResponseWriter, r *http.Request) {
	a, _ := actorFrom(r.Context())
	token := tokenFrom(r.Context())
	list, err := s.Auth.Sessions(r.Context(), a, token)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.pageFor(r, "Sessions", &page{Section: "settings", Data: sessionsData{Sessions: list}})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, http.StatusOK, "settings_sessions", "", p)
}

func (s *Server) sessionEnd(w http.ResponseWriter, r *http.Request) {
	a, _ := actorFrom(r.Context())
	token := tokenFrom(r.Context())
	if err := s.Auth.EndSession(r.Context(), a, chi.URLParam(r, "id"), token); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Session ended.")
	seeOther(w, r, "/settings/sessions")
}

type apiKeysData struct {
	Keys    []auth.APIKey
	Scopes  []string
	Checked map[string]bool
	NewKey  string
}

func (s *Server) renderAPIKeys(w http.ResponseWriter, r *http.Request, status int, form, fieldErrs map[string]string, checked map[string]bool, newKey string) {
	a, _ := actorFrom(r.Context())
	keys, err := s.Auth.APIKeys(r.Context(), a)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.pageFor(r, "API keys", &page{Section: "settings", Form: form, Errors: fieldErrs,
		Data: apiKeysData{Keys: keys, Scopes: auth.Scopes, Checked: checked, NewKey: newKey}})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, status, "settings_apikeys", "", p)
}

func (s *Server) apiKeysShow(w http.ResponseWriter, r *http.Request) {
	s.renderAPIKeys(w, r, http.StatusOK, map[string]string{}, nil, map[string]bool{}, "")
}

func (s *Server) apiKeyCreate(w http.ResponseWriter, r *http.Request) {
	a, _ := actorFrom(r.Context())
	form := formOf(r, "name", "expires_at")
	_ = r.ParseForm()
	scopes := r.PostForm["scope"]
	checked := map[string]bool{}
	for _, sc := range scopes {
		checked[sc] = true
	}
	in := auth.NewAPIKey{Name: form["name"], Scopes: scopes}
	var err error
	if form["expires_at"] != "" {
		// A date means "through the end of that day" in the user's zone.
		loc, lerr := time.LoadLocation(a.TimeZone)
		if lerr != nil {
			loc = time.UTC
		}
		d, perr := time.ParseInLocation("2006-01-02", form["expires_at"], loc)
		if perr != nil {
			err = errs.Fields{"expires_at": "Enter a date like 2027-01-31."}.Err()
		} else {
			exp := d.AddDate(0, 0, 1).UTC()
			in.ExpiresAt = &exp
		}
	}
	var key string
	if err == nil {
		key, _, err = s.Auth.CreateAPIKey(r.Context(), a, in)
	}
	if fe := fieldErrors(err); fe != nil {
		s.renderAPIKeys(w, r, statusOfErr(err), form, fe, checked, "")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The key is shown in this response only; it is never stored in clear.
	s.renderAPIKeys(w, r, http.StatusCreated, map[string]string{}, nil, map[string]bool{}, key)
}

func (s *Server) apiKeyRevoke(w http.ResponseWriter, r *http.Request) {
	a, _ := actorFrom(r.Context())
	if err := s.Auth.RevokeAPIKey(r.Context(), a, chi.URLParam(r, "id")); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "API key revoked.")
	seeOther(w, r, "/settings/api-keys")
}

func (s *Server) auditShow(w http.ResponseWriter, r *http.Request) {
	a, _ := actorFrom(r.Context())
	pg, err := s.Audit.List(r.Context(), a.UserID, r.URL.Query().Get("before"), 50)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := &page{Section: "settings", Data: pg}
	if r.Header.Get("HX-Request") == "true" {
		// "Older entries" swaps in just the next rows.
		p.Actor = a
		s.render(w, r, http.StatusOK, "settings_audit", "audit-rows", p)
		return
	}
	s.render(w, r, http.StatusOK, "settings_audit", "", s.pageFor(r, "Audit trail", p))
}
