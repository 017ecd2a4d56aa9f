package transfer_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/transfer"
)

// TestEmergencyExportHoldsEverything: the emergency export of a demo user
// holds a README naming each file, and per workspace every contact (with
// its id, so the log and the spouse links point at rows), every log entry
// (the same count per contact as the database) and the custom field
// definitions; the shares both ways. After a wipe, importing the zip's
// contacts.csv into a fresh database brings back the same contacts, every
// field and custom value alike.
func TestEmergencyExportHoldsEverything(t *testing.T) {
	ctx := context.Background()
	app := apptest.New(t, apptest.Options{NoJobs: true})
	app.SeedDemo(40, 400)
	u, _ := app.Auth.UserByEmail(ctx, "andy@example.com")
	andy := auth.Actor{UserID: u.ID}
	spaces, _ := app.Workspaces.List(ctx, andy)
	var lf string
	for _, ws := range spaces {
		if ws.Name == "Loan Factory" {
			lf = ws.ID
		}
	}
	fd, err := app.Contacts.CreateField(ctx, andy, lf, contact.FieldDef{Name: "Loan Amount", Type: "number"}, false)
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := app.Contacts.IDs(ctx, andy, lf, contact.Query{})
	if err := app.Contacts.SetCustom(ctx, andy, lf, ids[0], map[string]string{fd.ID: "650000"}); err != nil {
		t.Fatal(err)
	}

	var buf bytes.Buffer
	x := transfer.NewExports(app.Contacts, app.Workspaces)
	n, err := x.All(ctx, andy, time.UTC, &buf)
	if err != nil {
		t.Fatal(err)
	}
	z, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range z.File {
		r, _ := f.Open()
		b, _ := io.ReadAll(r)
		r.Close()
		files[f.Name] = strings.TrimPrefix(string(b), "\ufeff")
	}
	readme := files["README.txt"]
	for _, name := range []string{"contacts.csv", "log.csv", "custom_fields.json", "shares.json", "templates.json", "campaigns.json", "export.json"} {
		if !strings.Contains(readme, name) {
			t.Errorf("the README does not say what %s is", name)
		}
	}
	total := 0
	for _, ws := range spaces {
		dir := "workspaces/" + regexp.MustCompile(`[^A-Za-z0-9._ -]+`).ReplaceAllString(ws.Name, "_") + "/"
		contacts := records(t, files[dir+"contacts.csv"])
		log := records(t, files[dir+"log.csv"])
		if len(contacts) == 0 || len(log) == 0 {
			t.Fatalf("%s: %d contact lines, %d log lines", ws.Name, len(contacts), len(log))
		}
		if len(contacts) == 1 {
			continue // a workspace without contacts: headers only
		}
		total += len(contacts) - 1
		// Every log entry, counted per contact, as in the database.
		inZip := map[string]int{}
		for _, r := range log[1:] {
			inZip[r[0]]++
		}
		inDB := map[string]int{}
		app.DB.Read(ctx, func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, `SELECT contact_id, count(*) FROM activities WHERE workspace_id = ? GROUP BY contact_id`, &sqlitex.ExecOptions{
				Args: []any{ws.ID}, ResultFunc: func(st *sqlite.Stmt) error { inDB[st.ColumnText(0)] = st.ColumnInt(1); return nil }})
		})
		if len(inDB) == 0 || !equalCounts(inZip, inDB) {
			t.Errorf("%s: log entries per contact in the zip %v, in the database %v", ws.Name, inZip, inDB)
		}
		// The log's contact ids are the contacts' pi-crm IDs.
		rows := map[string]bool{}
		for _, r := range contacts[1:] {
			rows[r[0]] = true
		}
		for id := range inZip {
			if !rows[id] {
				t.Errorf("%s: log.csv names contact %s, not in contacts.csv", ws.Name, id)
			}
		}
		var defs []contact.FieldDef
		if err := json.Unmarshal([]byte(files[dir+"custom_fields.json"]), &defs); err != nil {
			t.Fatalf("%s custom_fields.json: %v", ws.Name, err)
		}
		if ws.ID == lf && (len(defs) != 1 || defs[0].Name != "Loan Amount" || defs[0].Type != "number") {
			t.Errorf("Loan Factory's custom fields: %+v", defs)
		}
	}
	if total != n {
		t.Errorf("the zip holds %d contacts, All said %d", total, n)
	}
	var shares struct {
		By   []contact.OutShare `json:"shared_by_me"`
		With []json.RawMessage  `json:"shared_with_me"`
	}
	if err := json.Unmarshal([]byte(files["shares.json"]), &shares); err != nil || len(shares.By) != 1 || shares.By[0].ViewerEmail != "monalisa@example.com" ||
		len(shares.With) != 1 || !strings.Contains(string(shares.With[0]), "Tuan") {
		t.Errorf("shares.json: %s (%v)", files["shares.json"], err)
	}

	// Wipe: a fresh database. The zip's Loan Factory contacts import into
	// a new workspace with its custom field, and come back the same.
	fresh := apptest.New(t, apptest.Options{NoJobs: true})
	a2 := fresh.NewUser("Andy")
	ws2 := a2.Workspace("Loan Factory")
	var defs []contact.FieldDef
	json.Unmarshal([]byte(files["workspaces/Loan Factory/custom_fields.json"]), &defs)
	for _, d := range defs {
		d.ID = ""
		if _, err := fresh.Contacts.CreateField(ctx, a2.Actor, ws2.ID, d, false); err != nil {
			t.Fatal(err)
		}
	}
	im := transfer.NewImports(fresh.DB, fresh.Contacts, filepath.Join(t.TempDir(), "imports"), slog.New(slog.DiscardHandler))
	j, err := im.Upload(ctx, a2.Actor, ws2.ID, "contacts.csv", strings.NewReader(files["workspaces/Loan Factory/contacts.csv"]))
	if err != nil {
		t.Fatal(err)
	}
	j = runImport(t, im, a2.Actor, ws2.ID, j, &transfer.Options{OnDuplicate: contact.DupCreate})
	if j.Failed != 0 || j.Warned != 0 {
		t.Fatalf("re-import: %d failed, %d warned", j.Failed, j.Warned)
	}
	x2 := transfer.NewExports(fresh.Contacts, fresh.Workspaces)
	user := &apptest.User{Actor: andy}
	want := canon(t, app, x, user, lf)
	got := canon(t, fresh, x2, a2, ws2.ID)
	if got != want {
		t.Errorf("re-imported contacts differ:\nwant %s\ngot  %s", want, got)
	}

	// Or restore the whole zip into the wiped appliance: every workspace
	// with its contacts (their ids kept), links, custom fields and the
	// whole log, the same count per contact.
	other := apptest.New(t, apptest.Options{NoJobs: true})
	a3 := other.NewUser("Andy")
	x3 := transfer.NewExports(other.Contacts, other.Workspaces)
	res, err := x3.Restore(ctx, a3.Actor, z)
	if err != nil {
		t.Fatal(err)
	}
	if res.Workspaces != len(spaces) || res.Contacts != n || len(res.Skipped) != 0 {
		t.Fatalf("restored %+v, want %d workspaces and %d contacts", res, len(spaces), n)
	}
	var audited int
	other.DB.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT count(*) FROM audit_log WHERE action IN ('contact.restore', 'contact.restore_log') AND user_id = ?`, &sqlitex.ExecOptions{
			Args: []any{a3.Actor.UserID}, ResultFunc: func(st *sqlite.Stmt) error { audited = st.ColumnInt(0); return nil }})
	})
	if audited < 2*3 { // contacts and log, in each workspace that has contacts
		t.Errorf("the restore wrote %d audit rows", audited)
	}
	restored, _ := other.Workspaces.List(ctx, a3.Actor)
	var lf3 string
	for _, ws := range restored {
		if ws.Name == "Loan Factory" {
			lf3 = ws.ID
		}
	}
	if got := canon(t, other, x3, a3, lf3); got != want {
		t.Errorf("restored contacts differ:\nwant %s\ngot  %s", want, got)
	}
	counts := func(app *apptest.App, wsID string) map[string]int {
		out := map[string]int{}
		app.DB.Read(ctx, func(conn *sqlite.Conn) error {
			return sqlitex.Execute(conn, `SELECT contact_id || ' ' || kind, count(*) FROM activities WHERE workspace_id = ? GROUP BY 1`, &sqlitex.ExecOptions{
				Args: []any{wsID}, ResultFunc: func(st *sqlite.Stmt) error { out[st.ColumnText(0)] = st.ColumnInt(1); return nil }})
		})
		return out
	}
	before, after := counts(app, lf), counts(other, lf3)
	if len(before) == 0 || !equalCounts(before, after) {
		t.Errorf("log entries by contact and kind: before %d groups, after the restore %d (%v vs %v)", len(before), len(after), before, after)
	}
	linh, _ := app.Contacts.List(ctx, andy, lf, contact.Query{Search: "Kealoha"})
	for _, r := range linh.Rows {
		c1, _ := app.Contacts.Get(ctx, andy, lf, r.ID)
		c2, err := other.Contacts.Get(ctx, a3.Actor, lf3, r.ID)
		if err != nil || (c1.Spouse == nil) != (c2.Spouse == nil) || (c1.Spouse != nil && c1.Spouse.ID != c2.Spouse.ID) {
			t.Errorf("%s's spouse: %+v before, %+v after (%v)", c1.Name(), c1.Spouse, c2.Spouse, err)
		}
	}
}

func records(t *testing.T, s string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
