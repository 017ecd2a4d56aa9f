package web

import (
	"bytes"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/calendar"
	"github.com/pi-crm/pi-crm/pkg/summary"
)

// calendarData is the calendar settings page: whether there is a feed,
// since when, and its address right after it was made (the secret is
// never stored, so it is shown only then).
type calendarData struct {
	Since  time.Time
	URL    string
	Weekly bool // the weekly summary email is on
}

// siteBase is the address the user reached crm-web at.
func siteBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) calendarShow(w http.ResponseWriter, r *http.Request) {
	a, _ := actorFrom(r.Context())
	since, err := s.Calendars.Since(r.Context(), a)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	weekly, err := summary.Wanted(r.Context(), s.DB, a)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.pageFor(r, "Calendar feed", &page{Section: "settings", Data: calendarData{Since: since, Weekly: weekly}})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, http.StatusOK, "settings_calendar", "", p)
}

func (s *Server) calendarRotate(w http.ResponseWriter, r *http.Request) {
	a, _ := actorFrom(r.Context())
	token, since, err := s.Calendars.Rotate(r.Context(), a)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	weekly, err := summary.Wanted(r.Context(), s.DB, a)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := calendarData{Since: since, URL: siteBase(r) + "/calendar/" + token + ".ics", Weekly: weekly}
	s.render(w, r, http.StatusOK, "settings_calendar", "", s.pageFor(r, "Calendar feed", &page{Section: "settings", Data: d,
		Flash: "A new calendar address is ready; the old one no longer works."}))
}

func (s *Server) calendarStop(w http.ResponseWriter, r *http.Request) {
	a, _ := actorFrom(r.Context())
	if err := s.Calendars.Stop(r.Context(), a); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "The calendar feed is off.")
	seeOther(w, r, "/settings/calendar")
}

// weeklySummarySave turns the user's weekly summary email on or off.
func (s *Server) weeklySummarySave(w http.ResponseWriter, r *http.Request) {
	a, _ := actorFrom(r.Context())
	on := r.PostFormValue("weekly") == "on"
	if err := summary.Want(r.Context(), s.DB, a, on); err != nil {
		s.fail(w, r, err)
		return
	}
	msg := "The weekly summary is off."
	if on {
		msg = "The weekly summary is on: Monday mornings, in your time zone."
	}
	s.flash(w, r, msg)
	seeOther(w, r, "/settings/calendar")
}

// calendarFeed serves a user's feed to whoever holds its secret; any
// other address answers 404 alike.
func (s *Server) calendarFeed(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutSuffix(chi.URLParam(r, "file"), ".ics")
	if !ok {
		http.NotFound(w, r)
		return
	}
	user, ok, err := s.Calendars.Owner(r.Context(), token)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	items, err := s.Calendars.Items(r.Context(), user)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := calendar.Write(&buf, "pi-crm", siteBase(r), items, time.Now()); err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Cache-Control", "private, no-store")
	_, _ = buf.WriteTo(w)
}
