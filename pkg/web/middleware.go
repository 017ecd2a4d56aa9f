package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyActor
	keyWorkspace
	keyToken
	keyWorkspaces // the actor's workspaces, read with the current one
)

// SessionCookie is the name of the session cookie.
const SessionCookie = "picrm_session"

const flashCookie = "picrm_flash"

// lastWorkspaceCookie remembers the workspace the user last opened, so the
// home page opens it again.
const lastWorkspaceCookie = "picrm_ws"

func requestID(ctx context.Context) string { s, _ := ctx.Value(keyRequestID).(string); return s }

func actorFrom(ctx context.Context) (auth.Actor, bool) {
	a, ok := ctx.Value(keyActor).(auth.Actor)
	return a, ok
}

// tokenFrom returns the session token of a signed-in request.
func tokenFrom(ctx context.Context) string { t, _ := ctx.Value(keyToken).(string); return t }

func workspaceFrom(ctx context.Context) (workspace.Workspace, bool) {
	w, ok := ctx.Value(keyWorkspace).(workspace.Workspace)
	return w, ok
}

// clientIP is the peer address. crm-web faces the LAN directly, so no
// forwarding header is trusted.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyRequestID, id)))
	})
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.internal(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

// WriteHeader records the first status code sent.
func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200 before the first body bytes.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe counts requests by route pattern (never by raw path: IDs would
// explode the label set).
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		s.reqs.WithLabelValues(route, r.Method, strconv.Itoa(sw.code)).Inc()
		s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// securityHeaders forbids framing, sniffing and any script or style not
// served by crm-web itself.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// requireSession lets signed-in requests through with their actor and sends
// the rest to the log-in page, remembering where they were going.
func (s *Server) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(SessionCookie)
		token := ""
		if err == nil {
			token = c.Value
		}
		a, err := s.Auth.SessionActor(r.Context(), token, clientIP(r))
		if err != nil {
			if errs.KindOf(err) == errs.Unauthorized {
				// Only "no such session" ends the cookie: a database that
				// cannot answer (locked, a full disk) must not log anyone
				// out, least of all when they need "Download everything".
				if token != "" {
					s.clearCookie(w, r, SessionCookie)
				}
				target := "/login"
				if r.Method == http.MethodGet && r.URL.Path != "/" {
					target += "?next=" + url.QueryEscape(r.URL.RequestURI())
				}
				if r.Header.Get("HX-Request") == "true" {
					w.Header().Set("HX-Redirect", target)
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				http.Redirect(w, r, target, http.StatusSeeOther)
				return
			}
			s.fail(w, r, err)
			return
		}
		ctx := context.WithValue(r.Context(), keyActor, a)
		ctx = context.WithValue(ctx, keyToken, token)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// loadWorkspace resolves {ws} to one of the actor's workspaces; anything
// else, someone else's included, is a 404.
func (s *Server) loadWorkspace(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// One read for the workspace and the sidebar's list: every page
		// under /w/ needs both.
		a, _ := actorFrom(r.Context())
		all, err := s.Workspaces.List(r.Context(), a)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		id := chi.URLParam(r, "ws")
		i := slices.IndexFunc(all, func(w workspace.Workspace) bool { return w.ID == id })
		if i < 0 {
			s.fail(w, r, errs.NotFoundf("No such workspace."))
			return
		}
		ws := all[i]
		if r.Method == http.MethodGet && r.Header.Get("HX-Request") == "" {
			if c, err := r.Cookie(lastWorkspaceCookie); err != nil || c.Value != ws.ID {
				s.setCookie(w, r, lastWorkspaceCookie, ws.ID, time.Now().Add(365*24*time.Hour))
			}
		}
		ctx := context.WithValue(context.WithValue(r.Context(), keyWorkspace, ws), keyWorkspaces, all)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (s *Server) secure(r *http.Request) bool { return r.TLS != nil || s.SecureCookies }

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", Expires: expires, HttpOnly: true,
		Secure: s.secure(r), SameSite: http.SameSiteLaxMode})
}

func (s *Server) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: s.secure(r), SameSite: http.SameSiteLaxMode})
}

// flash stores a one-time message shown by the next page.
func (s *Server) flash(w http.ResponseWriter, r *http.Request, msg string) {
	s.setCookie(w, r, flashCookie, url.QueryEscape(msg), time.Now().Add(time.Minute))
}

// takeFlash returns and clears the pending flash message.
func (s *Server) takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	s.clearCookie(w, r, flashCookie)
	msg, _ := url.QueryUnescape(c.Value)
	return msg
}

// seeOther redirects after a successful POST; htmx follows HX-Redirect.
func seeOther(w http.ResponseWriter, r *http.Request, to string) {
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", to)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}
