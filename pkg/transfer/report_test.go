package transfer_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/transfer"
)

// TestImportKeepsRowsWithBadFields imports a file whose rows each have one
// bad value: every contact but the one with nothing identifying lands,
// without the bad value; the preview lists the problem rows by line; the
// report holds one line per problem row with its line in the file, the
// result, the problems with the values as typed, and the row's own cells.
func TestImportKeepsRowsWithBadFields(t *testing.T) {
	ctx := context.Background()
	app := apptest.New(t, apptest.Options{NoJobs: true})
	u := app.NewUser("Andy")
	ws := u.Workspace("Loan Factory")
	file, err := os.ReadFile("../csvio/testdata/bad-fields.csv")
	if err != nil {
		t.Fatal(err)
	}
	im := transfer.NewImports(app.DB, app.Contacts, filepath.Join(t.TempDir(), "imports"), slog.New(slog.DiscardHandler))
	j, err := im.Upload(ctx, u.Actor, ws.ID, "bad-fields.csv", bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	p, err := im.Preview(ctx, u.Actor, ws.ID, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	var lines []int
	for _, r := range p.Problems {
		lines = append(lines, r.Line)
	}
	if p.Warned != 6 || p.Invalid != 1 || len(lines) != 7 || lines[0] != 2 || lines[6] != 8 {
		t.Fatalf("preview: %d warned, %d invalid, problem lines %v", p.Warned, p.Invalid, lines)
	}
	j = runImport(t, im, u.Actor, ws.ID, j, nil)
	if j.Created != 6 || j.Warned != 6 || j.Failed != 1 {
		t.Fatalf("created %d, warned %d, failed %d; want 6, 6, 1", j.Created, j.Warned, j.Failed)
	}
	page, err := app.Contacts.List(ctx, u.Actor, ws.ID, contact.Query{Search: "Dee"})
	if err != nil || len(page.Rows) != 1 {
		t.Fatalf("Dee: %+v, %v", page.Rows, err)
	}
	dee, _ := app.Contacts.Get(ctx, u.Actor, ws.ID, page.Rows[0].ID)
	if len(dee.Emails) != 0 || len(dee.Phones) != 1 || dee.Phones[0].Number != "+18085550104" {
		t.Errorf("Dee kept %+v %+v, want only her phone", dee.Emails, dee.Phones)
	}

	var out bytes.Buffer
	if err := im.WriteReport(ctx, u.Actor, ws.ID, j.ID, &out); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 8 {
		t.Fatalf("report has %d lines:\n%s", len(recs), out.String())
	}
	if h := strings.Join(recs[0], "|"); h != "Line|Result|Problems|First Name|Last Name|E-mail Address|Mobile Phone|Birthday|Do Not Contact|Web Page" {
		t.Errorf("report header %s", h)
	}
	ana := recs[1]
	if ana[0] != "2" || ana[1] != "imported without these values" || !strings.Contains(ana[2], `Birthday "1985-02-29"`) || ana[3] != "Ana" || ana[7] != "1985-02-29" {
		t.Errorf("Ana's line %q", ana)
	}
	bob := recs[6]
	if bob[0] != "7" || bob[1] != "not imported" || !strings.Contains(bob[2], `E-mail Address "bob@"`) || !strings.Contains(bob[2], "no name, company, email or phone") || bob[5] != "bob@" {
		t.Errorf("the refused row's line %q", bob)
	}
	// Another user's job answers as missing.
	mona := app.NewUser("Monalisa")
	if err := im.WriteReport(ctx, mona.Actor, ws.ID, j.ID, &out); err == nil {
		t.Error("another user read the report")
	}
}
