package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/logkey"
	"github.com/pi-crm/pi-crm/pkg/workspace"
	"github.com/pi-crm/pi-crm/web/templates"
)

// page is what every template receives.
type page struct {
	Title      string
	Section    string // highlights the sidebar entry
	Actor      auth.Actor
	Workspaces []workspace.Workspace
	Current    *workspace.Workspace
	Flash      string
	Error      string
	RequestID  string
	Form       map[string]string // the user's input, kept on a failed submit
	Errors     map[string]string // field -> message
	Now        time.Time
	Data       any
	Nav        nav            // the links the sidebar and the phone menu both show
	loc        *time.Location // the actor's zone, loaded once per page
}

// nav holds the link lists the layout shows twice (the sidebar and the
// phone menu), rendered once per page: every action of html/template is a
// reflective call or more, and these lists are most of a small page's.
type nav struct {
	WorkspaceLinks template.HTML
	AccountLinks   template.HTML
}

// location returns the actor's time zone, loading it once per page:
// time.LoadLocation reads the zone file on every call.
func (p *page) location() *time.Location {
	if p.loc == nil {
		p.loc = time.UTC
		if p.Actor.TimeZone != "" {
			if l, err := time.LoadLocation(p.Actor.TimeZone); err == nil {
				p.loc = l
			}
		}
	}
	return p.loc
}

// zone returns the named time zone, cached: time.LoadLocation reads and
// parses the zone file on every call.
func (s *Server) zone(name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	if l, ok := s.zones.Load(name); ok {
		return l.(*time.Location)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	s.zones.Store(name, l)
	return l
}

// T formats a time (or *time.Time) in the actor's time zone.
func (p *page) T(v any) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x == nil {
			return ""
		}
		t = *x
	default:
		return ""
	}
	return t.In(p.location()).Format("2006-01-02 15:04 MST")
}

// D formats a time as a date in the actor's time zone.
func (p *page) D(t time.Time) string {
	return t.In(p.location()).Format("2006-01-02")
}

// pageSet holds the layout and builds each page's set (a clone of the
// layout with the page) on the page's first render: pages nobody visits
// cost an idle crm-web no memory (all of them together hold about 2 MB).
// Every page is still built once at start, so a broken template fails
// there and not at a user's first visit.
type pageSet struct {
	layout *template.Template // never executed: only cloned
	files  map[string]string  // page name -> file
	mu     sync.RWMutex
	pages  map[string]*template.Template
}

func parseTemplates(sf *staticFiles) (*pageSet, error) {
	// The layout and the shared partials (files named _*.html) go into
	// every page's set.
	layout, err := template.New("layout").Funcs(templateFuncs(sf)).ParseFS(templates.FS, "layout.html", "_*.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	names, err := fs.Glob(templates.FS, "*.html")
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	t := &pageSet{layout: layout, files: map[string]string{}, pages: map[string]*template.Template{}}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" || strings.HasPrefix(name, "_") {
			continue
		}
		t.files[name] = n
		if _, err := t.build(name); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (t *pageSet) build(name string) (*template.Template, error) {
	c, err := t.layout.Clone()
	if err != nil {
		return nil, fmt.Errorf("clone layout: %w", err)
	}
	if _, err := c.ParseFS(templates.FS, t.files[name]); err != nil {
		return nil, fmt.Errorf("parse %s: %w", t.files[name], err)
	}
	return c, nil
}

// page returns page name's set, building it on first use.
func (t *pageSet) page(name string) (*template.Template, error) {
	t.mu.RLock()
	p, ok := t.pages[name]
	t.mu.RUnlock()
	if ok {
		return p, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.pages[name]; ok {
		return p, nil
	}
	if _, ok := t.files[name]; !ok {
		return nil, fmt.Errorf("no template %q", name)
	}
	p, err := t.build(name)
	if err != nil {
		return nil, err
	}
	t.pages[name] = p
	return p, nil
}

// render executes the page template name (or one of its blocks when block is
// not empty, for htmx fragments) into a buffer first, so a template error
// never sends half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name, block string, p *page) {
	t, err := s.tmpl.page(name)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if p.Now.IsZero() {
		p.Now = time.Now()
	}
	p.RequestID = requestID(r.Context())
	if p.loc == nil {
		p.loc = s.zone(p.Actor.TimeZone)
	}
	if block == "" {
		block = "layout"
	}
	var buf bytes.Buffer
	if block == "layout" && p.Actor.UserID != "" {
		var err error
		if p.Nav, err = navOf(t, p, &buf); err != nil {
			s.internal(w, r, fmt.Errorf("render %s: %w", name, err))
			return
		}
	}
	if err := t.ExecuteTemplate(&buf, block, p); err != nil {
		s.internal(w, r, fmt.Errorf("render %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// navOf renders the page's shared link lists with t, using buf as scratch.
func navOf(t *template.Template, p *page, buf *bytes.Buffer) (nav, error) {
	var n nav
	for _, part := range []struct {
		name string
		to   *template.HTML
	}{{"workspace-links", &n.WorkspaceLinks}, {"account-links", &n.AccountLinks}} {
		buf.Reset()
		if err := t.ExecuteTemplate(buf, part.name, p); err != nil {
			return nav{}, err
		}
		*part.to = template.HTML(buf.String()) //nolint:gosec // our own template's output, escaped by it
	}
	buf.Reset()
	return n, nil
}

// fail answers err: NotFound as a 404 page (the same for missing and for
// not-yours), TooMany as 429, and anything unexpected as a logged 500 that
// shows only a request id.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := errs.As(err)
	status := errs.HTTPStatus(e.Kind)
	if status == http.StatusInternalServerError {
		s.internal(w, r, err)
		return
	}
	if e.Kind == errs.TooMany {
		setRetryAfter(w, e)
	}
	title := map[int]string{http.StatusNotFound: "Not found"}[status]
	if title == "" {
		title = http.StatusText(status)
	}
	msg := e.Message
	if e.Kind == errs.NotFound {
		msg = "There is nothing here, or it is not yours to see."
	}
	s.render(w, r, status, "error", "", s.pageFor(r, title, &page{Error: msg}))
}

// internal logs err with the request id and answers 500 without details.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	id := requestID(r.Context())
	s.Log.Error("request failed", slog.String("request_id", id), slog.String(logkey.Path, r.URL.Path), slog.Any(logkey.Err, err))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, "<!doctype html><title>Error</title><p>Something went wrong. Request id: %s</p>", template.HTMLEscapeString(id))
}

// setRetryAfter tells a throttled client when to try again.
func setRetryAfter(w http.ResponseWriter, e *errs.Error) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Seconds())))
	}
}

func statusOfErr(err error) int { return errs.HTTPStatus(errs.KindOf(err)) }

// formOf returns the named form values, trimmed of nothing: what the user
// typed is what they get back.
func formOf(r *http.Request, names ...string) map[string]string {
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[n] = r.PostFormValue(n)
	}
	return m
}

// fieldErrors returns err's field messages when it is an Invalid or Conflict
// error that names fields, else nil.
func fieldErrors(err error) map[string]string {
	e := errs.As(err)
	if (e.Kind == errs.Invalid || e.Kind == errs.Conflict) && len(e.Fields) > 0 {
		return e.Fields
	}
	return nil
}
