package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
)

// safeNext keeps a post-log-in redirect on this site: a path, never a
// scheme-relative or absolute URL. Browsers drop tabs and newlines from a
// URL and read a backslash as a slash, so "/\t/evil" and "/\\evil" are
// "//evil" to them: any control character or backslash refuses the value,
// and what is left must parse to a path alone that starts with one slash.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	for _, r := range next {
		if r < 0x20 || r == 0x7f || r == '\\' || (r >= 0x80 && r < 0xa0) {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	return next
}

func (s *Server) loginShow(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		if _, err := s.Auth.SessionActor(r.Context(), c.Value, clientIP(r)); err == nil {
			http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
			return
		}
	}
	s.render(w, r, http.StatusOK, "login", "", &page{Title: "Log in", Form: map[string]string{"next": r.URL.Query().Get("next")}})
}

func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	form := formOf(r, "email", "next")
	sess, err := s.Auth.Login(r.Context(), form["email"], r.PostFormValue("password"), clientIP(r), r.UserAgent())
	if len(form["email"]) > auth.MaxEmailLen {
		form["email"] = "" // never echo a flood back
	}
	if err != nil {
		e := errs.As(err)
		switch e.Kind {
		case errs.Unauthorized, errs.TooMany:
			if e.Kind == errs.TooMany {
				setRetryAfter(w, e)
			}
			s.render(w, r, errs.HTTPStatus(e.Kind), "login", "", &page{Title: "Log in", Error: e.Message, Form: form})
		default:
			s.fail(w, r, err)
		}
		return
	}
	s.setCookie(w, r, SessionCookie, sess.Token, sess.ExpiresAt)
	http.Redirect(w, r, safeNext(form["next"]), http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	a, _ := actorFrom(r.Context())
	token := tokenFrom(r.Context())
	if err := s.Auth.Logout(r.Context(), a, token); err != nil {
		s.fail(w, r, err)
		return
	}
	s.clearCookie(w, r, SessionCookie)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// home opens the workspace the user last opened, else the first one they
// made (Andy's Loan Factory), or invites them to make one.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	p := s.pageFor(r, "Welcome", nil)
	if len(p.Workspaces) > 0 {
		first := p.Workspaces[0]
		last, _ := r.Cookie(lastWorkspaceCookie)
		for _, ws := range p.Workspaces {
			if last != nil && ws.ID == last.Value {
				first = ws
				break
			}
			if ws.CreatedAt.Before(first.CreatedAt) {
				first = ws
			}
		}
		http.Redirect(w, r, "/w/"+first.ID, http.StatusSeeOther)
		return
	}
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, http.StatusOK, "home", "", p)
}

// workspaceSwitch is the target of the sidebar's workspace selector.
func (s *Server) workspaceSwitch(w http.ResponseWriter, r *http.Request) {
	a, _ := actorFrom(r.Context())
	ws, err := s.Workspaces.Get(r.Context(), a, r.URL.Query().Get("ws"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	seeOther(w, r, "/w/"+ws.ID)
}
