package todo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/todo"
)

// TestTodos: a to-do is made, listed overdue-first, snoozed past today in
// the workspace's zone, done and deleted; bad input says what is wrong;
// another user's workspace, to-do or contact answers not found; an
// insight's to-do is made once.
func TestTodos(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	ctx := context.Background()
	ann, bob := app.NewUser("Ann"), app.NewUser("Bob")
	ws, other := ann.Workspace("Loans"), bob.Workspace("Homes")
	c := ann.Contact(ws.ID, "Maria", "maria@example.com")
	theirs := bob.Contact(other.ID, "Zed", "zed@example.com")
	now := time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC) // 2026-12-03 12:00 in UTC-8 (new workspaces are UTC)
	app.Todos.SetClock(func() time.Time { return now })

	if _, err := app.Todos.Create(ctx, ann.Actor, ws.ID, todo.Change{Title: "  ", DueOn: "12/5/2026"}); !errors.Is(err, errs.ErrInvalid) ||
		errs.As(err).Fields["title"] == "" || errs.As(err).Fields["due_on"] == "" {
		t.Fatalf("blank title and a bad date: %v", err)
	}
	if _, err := app.Todos.Create(ctx, ann.Actor, ws.ID, todo.Change{Title: "Call", ContactID: theirs.ID}); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("another user's contact: %v, want invalid", err)
	}
	if _, err := app.Todos.Create(ctx, bob.Actor, ws.ID, todo.Change{Title: "Snoop"}); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("in another user's workspace: %v, want not found", err)
	}
	later, err := app.Todos.Create(ctx, ann.Actor, ws.ID, todo.Change{Title: "Send the rate sheet", DueOn: "2026-12-10"})
	if err != nil {
		t.Fatal(err)
	}
	undated, _ := app.Todos.Create(ctx, ann.Actor, ws.ID, todo.Change{Title: "Someday"})
	late, err := app.Todos.Create(ctx, ann.Actor, ws.ID, todo.Change{Title: "Call   Maria", DueOn: "2026-12-01", ContactID: c.ID})
	if err != nil {
		t.Fatal(err)
	}
	if late.Title != "Call Maria" || late.ContactName != "Maria" || !late.Overdue("2026-12-03") || later.Overdue("2026-12-03") {
		t.Fatalf("to-do %+v", late)
	}
	open, _ := app.Todos.List(ctx, ann.Actor, ws.ID, false, 10)
	if len(open) != 3 || open[0].ID != late.ID || open[1].ID != later.ID || open[2].ID != undated.ID {
		t.Fatalf("open to-dos not overdue, then dated, then undated: %+v", open)
	}
	if mine, _ := app.Todos.ForContact(ctx, ann.Actor, ws.ID, c.ID); len(mine) != 1 || mine[0].ID != late.ID {
		t.Fatalf("contact's to-dos %+v", mine)
	}
	if _, err := app.Todos.Get(ctx, bob.Actor, ws.ID, late.ID); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("another user reads it: %v", err)
	}
	if err := app.Todos.SetDone(ctx, bob.Actor, other.ID, late.ID, true); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("another user marks it done through their workspace: %v", err)
	}
	// Snoozing an overdue to-do moves it after today, not after its date.
	due, err := app.Todos.Snooze(ctx, ann.Actor, ws.ID, late.ID, 1)
	if err != nil || due != "2026-12-04" {
		t.Fatalf("snooze: %q %v", due, err)
	}
	if due, _ := app.Todos.Snooze(ctx, ann.Actor, ws.ID, later.ID, 7); due != "2026-12-17" {
		t.Fatalf("snooze a future one: %q", due)
	}
	if err := app.Todos.SetDone(ctx, ann.Actor, ws.ID, late.ID, true); err != nil {
		t.Fatal(err)
	}
	if mine, _ := app.Todos.ForContact(ctx, ann.Actor, ws.ID, c.ID); len(mine) != 0 {
		t.Fatalf("a done to-do is still pinned: %+v", mine)
	}
	if done, _ := app.Todos.List(ctx, ann.Actor, ws.ID, true, 10); len(done) != 1 || done[0].ID != late.ID || !done[0].Done {
		t.Fatalf("done list %+v", done)
	}
	if err := app.Todos.Delete(ctx, ann.Actor, ws.ID, undated.ID); err != nil {
		t.Fatal(err)
	}
	if err := app.Todos.Delete(ctx, ann.Actor, ws.ID, undated.ID); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	// An insight's to-do is made once, however often its button is pressed.
	a, _ := app.Todos.Create(ctx, ann.Actor, ws.ID, todo.Change{Title: "Birthday", Source: todo.ByInsight, SourceRef: "birthday:x:2026"})
	b, _ := app.Todos.Create(ctx, ann.Actor, ws.ID, todo.Change{Title: "Birthday", Source: todo.ByInsight, SourceRef: "birthday:x:2026"})
	if a.ID == "" || a.ID != b.ID {
		t.Fatalf("insight to-do made twice: %s %s", a.ID, b.ID)
	}
	pg, err := app.Audit.List(ctx, ann.ID, "", 200)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range pg.Entries {
		seen[e.Action]++
	}
	if seen["todo.create"] != 4 || seen["todo.snooze"] != 2 || seen["todo.done"] != 1 || seen["todo.delete"] != 1 {
		t.Fatalf("audit rows %v", seen)
	}
}
