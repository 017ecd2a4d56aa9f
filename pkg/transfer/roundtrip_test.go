package transfer_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/transfer"
)

func ptr[T any](v T) *T { return &v }

// fill makes contacts with every kind of field in ws.
func fill(t *testing.T, app *apptest.App, u *apptest.User, wsID string) []contact.FieldDef {
	t.Helper()
	ctx := context.Background()
	var defs []contact.FieldDef
	for _, d := range []contact.FieldDef{{Name: "Loan Amount", Type: "number"}, {Name: "Source", Type: "dropdown", Options: []string{"Zillow", "Referral"}}, {Name: "Closed On", Type: "date"}} {
		fd, err := app.Contacts.CreateField(ctx, u.Actor, wsID, d, false)
		if err != nil {
			t.Fatal(err)
		}
		defs = append(defs, fd)
	}
	stages, _ := app.Lists.All(ctx, u.Actor, wsID, list.Stage)
	tag1, _ := app.Lists.Create(ctx, u.Actor, wsID, list.Tag, "VIP")
	tag2, _ := app.Lists.Create(ctx, u.Actor, wsID, list.Tag, "Past Client")
	b := &contact.Birthday{Month: 2, Day: 29, Year: 1988}
	c, err := app.Contacts.Create(ctx, u.Actor, wsID, contact.Fields{
		FirstName: ptr("Linh"), LastName: ptr("Trần"), Company: ptr("=cmd|' /C calc'!A0"),
		Emails:  &[]contact.EmailInput{{Address: "linh@example.com", Label: "Work", Primary: true}, {Address: "linh.home@example.com", Label: "Home"}},
		Phones:  &[]contact.PhoneInput{{Number: "+1 808 555 0100", Label: "HI Mobile", Primary: true}, {Number: "+1 415 555 0199", Label: "CA Office"}},
		StageID: &stages[1].ID, Birthday: &b, MaritalStatus: ptr("Married"), Children: ptr("2"), Pets: ptr("Dog, Mochi"),
		MiddleName: ptr("Thi"), Nickname: ptr("Lin"), JobTitle: ptr("Loan Officer"), Website: ptr("https://linh.example/about"),
		Address:    ptr("1 Aloha St\nSuite 2\nHonolulu, HI 96813"),
		ReferredBy: ptr("Monalisa"), FileNotes: ptr("Rate lock, \"30-yr\"\nsecond line"), DoNotContact: ptr(true),
		Custom: map[string]string{defs[0].ID: "450000", defs[1].ID: "Zillow", defs[2].ID: "2026-03-01"},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range []string{tag1.ID, tag2.ID} {
		if err := app.Contacts.SetTag(ctx, u.Actor, wsID, c.ID, tg, true); err != nil {
			t.Fatal(err)
		}
	}
	b2 := &contact.Birthday{Month: 12, Day: 1}
	if _, err := app.Contacts.Create(ctx, u.Actor, wsID, contact.Fields{FirstName: ptr("Kai"), Birthday: &b2,
		Phones: &[]contact.PhoneInput{{Number: "808-555-0142", Label: "Mobile"}}}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Contacts.Create(ctx, u.Actor, wsID, contact.Fields{Company: ptr("Aloha Homes"), Emails: &[]contact.EmailInput{{Address: "office@aloha.example"}}}, false); err != nil {
		t.Fatal(err)
	}
	return defs
}

// canon exports ws with every column but Created and Last Contact (which
// a copy cannot keep), custom fields by name, rows sorted.
func canon(t *testing.T, app *apptest.App, x *transfer.Exports, u *apptest.User, wsID string) string {
	t.Helper()
	fields, _ := app.Contacts.Fields(context.Background(), u.Actor, wsID)
	var cols []string
	for _, c := range transfer.AllColumns(fields) {
		if c != "created" && c != "last_contact" {
			cols = append(cols, c)
		}
	}
	return canonCols(t, x, u, wsID, cols)
}

func TestRoundTripCSV(t *testing.T) {
	ctx := context.Background()
	app := apptest.New(t, apptest.Options{NoJobs: true})
	u := app.NewUser("Andy")
	src := u.Workspace("Loan Factory")
	fill(t, app, u, src.ID)
	x := transfer.NewExports(app.Contacts, app.Workspaces)
	var file bytes.Buffer
	fields, _ := app.Contacts.Fields(ctx, u.Actor, src.ID)
	n, err := x.CSV(ctx, u.Actor, src.ID, nil, transfer.AllColumns(fields), true, time.UTC, &file)
	if err != nil || n != 3 {
		t.Fatalf("export: %d rows, %v", n, err)
	}
	if !strings.Contains(file.String(), `'=cmd|`) || !strings.Contains(file.String(), "+1 808-555-0100") {
		t.Fatalf("a formula cell is not neutralized or a phone was mangled:\n%s", file.String())
	}
	// The same user's empty workspace, with the same custom fields (by name).
	dst := u.Workspace("Copy")
	for _, d := range fields {
		d.ID = ""
		if _, err := app.Contacts.CreateField(ctx, u.Actor, dst.ID, d, false); err != nil {
			t.Fatal(err)
		}
	}
	im := transfer.NewImports(app.DB, app.Contacts, filepath.Join(t.TempDir(), "imports"), slog.New(slog.DiscardHandler))
	j, err := im.Upload(ctx, u.Actor, dst.ID, "loan-factory.csv", bytes.NewReader(file.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if j.Encoding != "UTF-8 with BOM" || j.Total != 3 {
		t.Fatalf("detected %s, %d rows", j.Encoding, j.Total)
	}
	j = runImport(t, im, u.Actor, dst.ID, j, &transfer.Options{OnDuplicate: contact.DupMerge})
	if j.Status != transfer.Done || j.Created != 3 || j.Failed != 0 {
		t.Fatalf("job %+v", j)
	}
	// Every step the user took is one audit row on the job, by them.
	var actions []string
	app.DB.Read(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `SELECT action FROM audit_log WHERE entity_type = 'import_job' AND entity_id = ? AND user_id = ? ORDER BY id`,
			&sqlitex.ExecOptions{Args: []any{j.ID, u.Actor.UserID}, ResultFunc: func(st *sqlite.Stmt) error { actions = append(actions, st.ColumnText(0)); return nil }})
	})
	if strings.Join(actions, " ") != "contact.import_upload contact.import_plan contact.import_start contact.import" {
		t.Fatalf("audit rows %v", actions)
	}
	got, want := canon(t, app, x, u, dst.ID), canon(t, app, x, u, src.ID)
	if got != want {
		t.Fatalf("round trip differs:\nwant %s\ngot  %s", want, got)
	}
}

// canonCols exports ws's contacts with cols, headed by name (so custom
// fields of two workspaces compare), rows sorted.
func canonCols(t *testing.T, x *transfer.Exports, u *apptest.User, wsID string, cols []string) string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := x.CSV(context.Background(), u.Actor, wsID, nil, cols, false, time.UTC, &buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, r := range recs[1:] {
		lines = append(lines, strings.Join(r, "|"))
	}
	slicesSort(lines)
	return strings.Join(recs[0], "|") + "\n" + strings.Join(lines, "\n")
}

func TestRoundTripVCard(t *testing.T) {
	ctx := context.Background()
	app := apptest.New(t, apptest.Options{NoJobs: true})
	u := app.NewUser("Andy")
	src := u.Workspace("Loan Factory")
	fill(t, app, u, src.ID)
	x := transfer.NewExports(app.Contacts, app.Workspaces)
	var file bytes.Buffer
	if n, err := x.VCard(ctx, u.Actor, src.ID, nil, &file); err != nil || n != 3 {
		t.Fatalf("vCard export: %d, %v", n, err)
	}
	dst := u.Workspace("Phone")
	im := transfer.NewImports(app.DB, app.Contacts, filepath.Join(t.TempDir(), "imports"), slog.New(slog.DiscardHandler))
	j, err := im.Upload(ctx, u.Actor, dst.ID, "all.vcf", bytes.NewReader(file.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if j.Format != "vcard" || j.Total != 3 {
		t.Fatalf("job %+v", j)
	}
	runImport(t, im, u.Actor, dst.ID, j, nil)
	// What a vCard carries: names, nickname, organization, title, website,
	// address, every email and phone with its label and the primary,
	// birthday, tags.
	cols := []string{"first_name", "middle_name", "last_name", "nickname", "company", "job_title", "website", "address", "primary_email", "primary_email_label", "primary_phone", "primary_phone_label",
		"secondary_emails", "secondary_phones", "birthday", "tags"}
	if got, want := canonCols(t, x, u, dst.ID, cols), canonCols(t, x, u, src.ID, cols); got != want {
		t.Fatalf("vCard round trip differs:\nwant %s\ngot  %s", want, got)
	}
}
