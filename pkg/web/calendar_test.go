package web_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	goical "github.com/emersion/go-ical"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/summary"
	"github.com/pi-crm/pi-crm/pkg/todo"
)

// TestCalendarFeed: the feed is valid iCalendar (parsed by a second,
// independent library) with the user's birthdays and due to-dos and none
// of another user's; without its secret, or after rotation, or after it is
// turned off, the address answers 404 with nothing in it.
func TestCalendarFeed(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	ctx := context.Background()
	andy, mona := app.NewUser("Andy"), app.NewUser("Mona")
	ws, theirs := andy.Workspace("Loans"), mona.Workspace("Homes")
	soon := time.Now().AddDate(0, 0, 10)
	m, d := int(soon.Month()), soon.Day()
	for _, x := range []struct {
		u    *apptest.User
		ws   string
		name string
	}{{andy, ws.ID, "Maria"}, {mona, theirs.ID, "Zed"}} {
		name, b := x.name, &contact.Birthday{Month: m, Day: d}
		if _, err := app.Contacts.Create(ctx, x.u.Actor, x.ws, contact.Fields{FirstName: &name, Birthday: &b}, true); err != nil {
			t.Fatal(err)
		}
		if _, err := app.Todos.Create(ctx, x.u.Actor, x.ws, todo.Change{Title: "Call " + x.name, DueOn: soon.Format(todo.DateLayout)}); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := postForm(app, andy.Client, "/settings/calendar/rotate", nil, false)
	feed := regexp.MustCompile(`/calendar/[A-Za-z0-9_-]+\.ics`).FindString(body)
	if resp.StatusCode != http.StatusOK || feed == "" {
		t.Fatalf("rotate: %d %s", resp.StatusCode, apptest.Trim(body))
	}
	get := func(path string) (*http.Response, string) {
		return app.Do(app.Client(), http.MethodGet, path, nil, nil)
	}
	resp, ics := get(feed)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/calendar") {
		t.Fatalf("feed: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	cal, err := goical.NewDecoder(bytes.NewReader([]byte(ics))).Decode()
	if err != nil {
		t.Fatalf("the feed is not iCalendar: %v\n%s", err, ics)
	}
	var titles []string
	for _, e := range cal.Events() {
		sum, _ := e.Props.Text(goical.PropSummary)
		start, err := e.DateTimeStart(time.UTC)
		if err != nil || e.Props.Get(goical.PropUID) == nil || e.Props.Get(goical.PropDateTimeStamp) == nil {
			t.Fatalf("event %q: start %v, uid and dtstamp required", sum, err)
		}
		if start.Format(todo.DateLayout) != soon.Format(todo.DateLayout) {
			t.Fatalf("event %q on %s, want %s", sum, start, soon.Format(todo.DateLayout))
		}
		titles = append(titles, sum)
	}
	if len(titles) != 2 || !strings.Contains(ics, "Maria's birthday") || !strings.Contains(ics, "To-do: Call Maria") || strings.Contains(ics, "Zed") {
		t.Fatalf("feed events %q", titles)
	}
	for _, bad := range []string{"/calendar/nope.ics", strings.TrimSuffix(feed, ".ics"), strings.Replace(feed, "/calendar/", "/calendar/x", 1)} {
		if resp, body := get(bad); resp.StatusCode != http.StatusNotFound || strings.Contains(body, "Maria") {
			t.Fatalf("%s: %d", bad, resp.StatusCode)
		}
	}
	_, body = postForm(app, andy.Client, "/settings/calendar/rotate", nil, false)
	fresh := regexp.MustCompile(`/calendar/[A-Za-z0-9_-]+\.ics`).FindString(body)
	if resp, _ := get(feed); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the old address still works after rotating: %d", resp.StatusCode)
	}
	if resp, _ := get(fresh); resp.StatusCode != http.StatusOK {
		t.Fatalf("the new address: %d", resp.StatusCode)
	}
	postForm(app, andy.Client, "/settings/calendar/stop", nil, false)
	if resp, _ := get(fresh); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the feed still answers once off: %d", resp.StatusCode)
	}
}

// TestWeeklySummarySetting: the weekly summary is on for a new user,
// the settings page turns it off and on, and the page says which.
func TestWeeklySummarySetting(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	ann := app.NewUser("Ann")
	_, page := app.Do(ann.Client, http.MethodGet, "/settings/calendar", nil, nil)
	if !strings.Contains(page, `name="weekly" value="on" checked`) {
		t.Fatalf("a new user's summary is not on: %s", apptest.Trim(page))
	}
	if resp, _ := postForm(app, ann.Client, "/settings/summary", url.Values{}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("turn off: %d", resp.StatusCode)
	}
	_, page = app.Do(ann.Client, http.MethodGet, "/settings/calendar", nil, nil)
	if strings.Contains(page, `name="weekly" value="on" checked`) || !strings.Contains(page, "The weekly summary is off.") {
		t.Fatalf("after turning it off: %s", apptest.Trim(page))
	}
	if on, _ := summary.Wanted(context.Background(), app.DB, ann.Actor); on {
		t.Fatal("still on in the database")
	}
	postForm(app, ann.Client, "/settings/summary", url.Values{"weekly": {"on"}}, false)
	if on, _ := summary.Wanted(context.Background(), app.DB, ann.Actor); !on {
		t.Fatal("not on again")
	}
}
