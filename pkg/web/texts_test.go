package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/events"
)

// TestBulkTexts: the contact list's selection opens a text to each of
// them; each contact gets their own text with their placeholders, as bulk
// (quiet hours apply); contacts without a phone, opted out, or not of the
// workspace (another user's, its id pasted in) are left out with the
// reason; the form sent twice queues nothing more.
func TestBulkTexts(t *testing.T) {
	app := apptest.New(t, apptest.Options{NoJobs: true})
	andy, mona := app.NewUser("Andy"), app.NewUser("Mona")
	ws := andy.Workspace("Coldwell")
	ctx := context.Background()
	mk := func(a *apptest.User, wsID, first, phone string) contact.Contact {
		f := contact.Fields{FirstName: &first}
		if phone != "" {
			f.Phones = &[]contact.PhoneInput{{Number: phone}}
		}
		c, err := app.Contacts.Create(ctx, a.Actor, wsID, f, true)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	linh, tom, ann := mk(andy, ws.ID, "Linh", "+14155550123"), mk(andy, ws.ID, "Tom", ""), mk(andy, ws.ID, "Ann", "+14155550124")
	stranger := mk(mona, mona.Workspace("Mine").ID, "Secret", "+14155550125")
	if err := app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		if err := events.SetSMSConfig(conn, "+14155550100"); err != nil {
			return err
		}
		return events.SetFlag(conn, ws.ID, ann.ID, events.FlagSMSOptOut, "texted STOP")
	}); err != nil {
		t.Fatal(err)
	}
	base := "/w/" + ws.ID
	q := url.Values{"id": {linh.ID, tom.ID, ann.ID, stranger.ID}}
	_, body := app.Do(andy.Client, http.MethodGet, base+"/texts/new?"+q.Encode(), nil, nil)
	if !strings.Contains(body, "Text 3 contacts") || !strings.Contains(body, "Linh") || !strings.Contains(body, "no phone: left out") || strings.Contains(body, "Secret") {
		t.Fatalf("the form: %s", apptest.Trim(body))
	}
	m := regexp.MustCompile(`name="request_id" value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no request id")
	}
	form := url.Values{"request_id": {m[1]}, "id": q["id"], "body": {"Hi {{first_name}}, open house Sunday!"}}
	// An unknown placeholder refuses the whole form, keeping the words.
	bad := url.Values{"request_id": {m[1]}, "id": q["id"], "body": {"Hi {{frist_name}}"}}
	resp, body := postForm(app, andy.Client, base+"/texts", bad, false)
	apptest.Expect(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, "Hi {{frist_name}}") || !strings.Contains(body, "frist_name") {
		t.Fatalf("a bad placeholder: %s", apptest.Trim(body))
	}
	for range 2 {
		if resp := app.PostForm(andy.Client, base+"/texts", form); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("send: %d", resp.StatusCode)
		}
	}
	type row struct {
		contact, text string
		bulk          bool
	}
	var rows []row
	if err := app.DB.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT coalesce(contact_id, ''), coalesce(b.text, ''), bulk FROM outbox LEFT JOIN outbox_bodies b ON b.outbox_id = outbox.id WHERE channel = 'sms'`, &sqlitex.ExecOptions{ResultFunc: func(st *sqlite.Stmt) error {
			rows = append(rows, row{st.ColumnText(0), st.ColumnText(1), st.ColumnBool(2)})
			return nil
		}})
	}); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].contact != linh.ID || rows[0].text != "Hi Linh, open house Sunday!" || !rows[0].bulk {
		t.Fatalf("queued: %+v", rows)
	}
	_, body = app.Do(andy.Client, http.MethodGet, base+"/contacts", nil, nil)
	if !strings.Contains(body, "had been queued already") {
		t.Errorf("the second submit's flash: %s", apptest.Trim(body))
	}
	// Mona's own page for her contact shows no text from Andy.
	_, body = app.Do(mona.Client, http.MethodGet, "/w/"+stranger.WorkspaceID+"/contacts/"+stranger.ID, nil, nil)
	if strings.Contains(body, "open house") {
		t.Fatal("another user's contact got the text")
	}
}
