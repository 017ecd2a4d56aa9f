package contact_test

import (
	"context"
	"errors"
	"testing"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/list"
)

func TestMerge(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	target := f.create(t, "Linh", "linh@work.example.com", "(808) 555-0100")
	source, err := f.contacts.Create(ctx, f.andy, f.ws, contact.Fields{FirstName: s("Linh T."), Company: s("RateReady"),
		Emails:  &[]contact.EmailInput{{Address: "linh@home.example.com", Label: "Personal"}, {Address: "LINH@work.example.com", Label: "Old"}},
		Phones:  &[]contact.PhoneInput{{Number: "(808) 555-0199", Label: "HI Mobile"}},
		StageID: s(f.stage(t, "Applications"))}, true)
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := f.lists.Create(ctx, f.andy, f.ws, list.Tag, "Realtor")
	if err := f.contacts.SetTag(ctx, f.andy, f.ws, source.ID, tag.ID, true); err != nil {
		t.Fatal(err)
	}
	f.contacts.AddNote(ctx, f.andy, f.ws, source.ID, "<p>met at open house</p>")
	before, _ := f.contacts.Log(ctx, f.andy, f.ws, source.ID, activity.Tabs[0], "")

	merged, err := f.contacts.Merge(ctx, f.andy, f.ws, target.ID, source.ID, contact.MergeChoice{
		Take:         map[string]string{"company": "source", "stage": "source"},
		PrimaryEmail: "linh@home.example.com",
	})
	if err != nil {
		t.Fatal(err)
	}
	if merged.FirstName != "Linh" || merged.Company != "RateReady" || merged.StageName != "Applications" {
		t.Fatalf("fields by choice: %+v", merged)
	}
	if len(merged.Emails) != 2 || merged.PrimaryEmail() != "linh@home.example.com" {
		t.Fatalf("emails %+v", merged.Emails)
	}
	labels := map[string]string{}
	for _, p := range merged.Phones {
		labels[p.Number] = p.Label
	}
	if labels["+18085550100"] != "CA Mobile" || labels["+18085550199"] != "HI Mobile" || merged.PrimaryPhone() != "+18085550100" {
		t.Fatalf("phones %+v", merged.Phones)
	}
	if len(merged.Tags) != 1 || merged.Tags[0].Name != "Realtor" {
		t.Fatalf("tags %+v", merged.Tags)
	}
	if _, err := f.contacts.Get(ctx, f.andy, f.ws, source.ID); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("source still there: %v", err)
	}
	after, _ := f.contacts.Log(ctx, f.andy, f.ws, target.ID, activity.Tabs[0], "")
	moved := 0
	ids := map[string]bool{}
	for _, e := range after.Entries {
		ids[e.ID] = true
	}
	for _, e := range before.Entries {
		if ids[e.ID] {
			moved++
		}
	}
	if moved != len(before.Entries) {
		t.Fatalf("%d of %d log entries moved", moved, len(before.Entries))
	}
	if after.Entries[0].Summary != "Merged with Linh T." {
		t.Fatalf("newest entry %q, want the merge", after.Entries[0].Summary)
	}
}

func TestMergeIsAllOrNothing(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	target := f.create(t, "T", "t@example.com", "")
	source := f.create(t, "S", "s@example.com", "")
	f.contacts.AddNote(ctx, f.andy, f.ws, source.ID, "<p>keep me</p>")
	// Make the last step (deleting the source) fail, after the log entries
	// and tags have already been moved inside the transaction.
	err := f.db.Write(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.ExecuteTransient(conn, `CREATE TRIGGER fail_delete BEFORE DELETE ON contacts WHEN old.id = '`+source.ID+`' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.contacts.Merge(ctx, f.andy, f.ws, target.ID, source.ID, contact.MergeChoice{}); err == nil {
		t.Fatal("merge succeeded through a failing delete")
	}
	s2, err := f.contacts.Get(ctx, f.andy, f.ws, source.ID)
	if err != nil || s2.PrimaryEmail() != "s@example.com" {
		t.Fatalf("source after a failed merge: %+v, %v", s2, err)
	}
	t2, _ := f.contacts.Get(ctx, f.andy, f.ws, target.ID)
	if len(t2.Emails) != 1 {
		t.Fatalf("target changed by a failed merge: %+v", t2.Emails)
	}
	p, _ := f.contacts.Log(ctx, f.andy, f.ws, source.ID, activity.TabByKey("notes"), "")
	if len(p.Entries) != 1 {
		t.Fatalf("source's note moved by a failed merge")
	}
	if _, err := f.contacts.Merge(ctx, f.andy, f.ws, target.ID, target.ID, contact.MergeChoice{}); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("self-merge: %v", err)
	}
	other, _ := f.contacts.Create(ctx, f.mona, f.monaWS, contact.Fields{FirstName: s("M")}, false)
	if _, err := f.contacts.Merge(ctx, f.andy, f.ws, target.ID, other.ID, contact.MergeChoice{}); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("merge another user's contact: %v", err)
	}
}

func TestSharing(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	c := f.create(t, "Shared", "shared@example.com", "")
	f.contacts.AddNote(ctx, f.andy, f.ws, c.ID, "<p>likes condos</p>")
	f.contacts.AddCall(ctx, f.andy, f.ws, c.ID, c.CreatedAt, 60e9, "private call notes")
	if _, err := f.contacts.GetShared(ctx, f.mona, c.ID); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("before sharing: %v", err)
	}
	if err := f.contacts.ShareWith(ctx, f.andy, f.ws, c.ID, f.mona.UserID); err != nil {
		t.Fatal(err)
	}
	if err := f.contacts.ShareWith(ctx, f.mona, f.ws, c.ID, f.andy.UserID); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("the viewer re-shares: %v", err)
	}
	sh, err := f.contacts.GetShared(ctx, f.mona, c.ID)
	if err != nil || sh.Contact.FirstName != "Shared" || len(sh.Notes) != 1 || sh.OwnerName != "Andy" {
		t.Fatalf("shared view: %+v %v", sh, err)
	}
	// The viewer cannot write the original through any owner route.
	if _, err := f.contacts.Update(ctx, f.mona, f.ws, c.ID, contact.Fields{FirstName: s("Hacked")}, false); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("viewer update: %v", err)
	}
	if _, err := f.contacts.Update(ctx, f.mona, f.monaWS, c.ID, contact.Fields{FirstName: s("Hacked")}, false); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("viewer update via own workspace: %v", err)
	}
	if err := f.contacts.AddNote(ctx, f.mona, f.monaWS, c.ID, "x"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("viewer note: %v", err)
	}
	copy, err := f.contacts.SaveAs(ctx, f.mona, c.ID, f.monaWS)
	if err != nil {
		t.Fatal(err)
	}
	if copy.ID == c.ID || copy.WorkspaceID != f.monaWS || copy.PrimaryEmail() != "shared@example.com" || copy.CopiedFrom != c.ID {
		t.Fatalf("copy %+v", copy)
	}
	log, _ := f.contacts.Log(ctx, f.mona, f.monaWS, copy.ID, activity.Tabs[0], "")
	var sawOrigin, sawPrivate bool
	for _, e := range log.Entries {
		sawOrigin = sawOrigin || e.Summary == "Saved as a copy of a contact shared by Andy"
		sawPrivate = sawPrivate || e.Kind == activity.Call
	}
	if !sawOrigin || sawPrivate {
		t.Fatalf("copy's log: origin=%v private-call-leaked=%v", sawOrigin, sawPrivate)
	}
	if err := f.contacts.Unshare(ctx, f.andy, f.ws, c.ID, f.mona.UserID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.contacts.GetShared(ctx, f.mona, c.ID); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("after revoke: %v", err)
	}
	if _, err := f.contacts.Get(ctx, f.mona, f.monaWS, copy.ID); err != nil {
		t.Fatalf("the copy went with the share: %v", err)
	}
	orig, _ := f.contacts.Get(ctx, f.andy, f.ws, c.ID)
	if orig.FirstName != "Shared" {
		t.Fatal("original changed")
	}
}
