package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/todo"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// demoTodo is a to-do due days from today.
type demoTodo struct {
	title string
	due   int
}

// demoTodos are each demo user's to-dos in their main workspace, due
// days from today (negative: overdue), so the dashboard, the calendar and
// the feed have some whatever day the demo is seeded.
var demoTodos = map[string]struct {
	ws    string
	todos []demoTodo
}{
	"andy@example.com":     {"Loan Factory", []demoTodo{{"Send the rate sheet to the Tran family", -1}, {"Call the title company about the Nguyen closing", 0}, {"Follow up on the RateReady partner lunch", 3}, {"Renew the NMLS continuing education", 10}}},
	"monalisa@example.com": {"Coldwell Banker Contacts", []demoTodo{{"Print flyers for Saturday's open house", 1}, {"Send the market report to past clients", 4}, {"Book the stager for Elm Street", -2}}},
}

// Todos seeds the demo users' to-dos.
func Todos(ctx context.Context, users *auth.Store, workspaces *workspace.Store, todos *todo.Store) error {
	for email, d := range demoTodos {
		u, err := users.UserByEmail(ctx, email)
		if err != nil {
			return fmt.Errorf("demo to-dos: %w", err)
		}
		actor := u.Actor("local")
		all, err := workspaces.List(ctx, actor)
		if err != nil {
			return err
		}
		for _, ws := range all {
			if ws.Name != d.ws {
				continue
			}
			loc, err := time.LoadLocation(ws.Settings.TimeZone)
			if err != nil {
				loc = time.UTC
			}
			today := time.Now().In(loc)
			for _, t := range d.todos {
				due := time.Date(today.Year(), today.Month(), today.Day()+t.due, 12, 0, 0, 0, loc).Format(todo.DateLayout)
				if _, err := todos.Create(ctx, actor, ws.ID, todo.Change{Title: t.title, DueOn: due}); err != nil {
					return fmt.Errorf("demo to-do %q: %w", t.title, err)
				}
			}
		}
	}
	return nil
}
