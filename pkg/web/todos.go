package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/todo"
)

// todosData is the to-do page: the open ones, the done ones lately, and
// today in the workspace's time zone (what is overdue).
type todosData struct {
	Open, Done []todo.Todo
	Today      string
	Back       string
}

// todayIn returns today's date in the workspace's time zone.
func (s *Server) todayIn(tz string) string { return time.Now().In(s.zone(tz)).Format(todo.DateLayout) }

// backTo returns the form's back address when it is a page of workspace
// wsID (and a path safeNext keeps on this site), else the workspace's
// to-do page: a form never sends the user off the site.
func backTo(r *http.Request, wsID string) string {
	b, prefix := r.PostFormValue("back"), "/w/"+wsID+"/"
	if safeNext(b) == b && (b == "/w/"+wsID || (strings.HasPrefix(b, prefix) && !strings.Contains(b, "//"))) {
		return b
	}
	return prefix + "todos"
}

func (s *Server) todosShow(w http.ResponseWriter, r *http.Request) {
	s.renderTodos(w, r, http.StatusOK, nil, nil)
}

func (s *Server) renderTodos(w http.ResponseWriter, r *http.Request, status int, form, fe map[string]string) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	d := todosData{Today: s.todayIn(ws.Settings.TimeZone)}
	var err error
	if d.Open, err = s.Todos.List(r.Context(), a, ws.ID, false, 200); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Done, err = s.Todos.List(r.Context(), a, ws.ID, true, 20); err != nil {
		s.fail(w, r, err)
		return
	}
	if form != nil {
		d.Back = backTo(r, ws.ID)
	}
	p := s.pageFor(r, "To-dos", &page{Section: "todos", Data: d, Form: form, Errors: fe})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, status, "todos", "", p)
}

func (s *Server) todoCreate(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	ch := todo.Change{Title: r.PostFormValue("title"), DueOn: r.PostFormValue("due_on"), ContactID: r.PostFormValue("contact_id")}
	if _, err := s.Todos.Create(r.Context(), a, ws.ID, ch); err != nil {
		if fe := fieldErrors(err); fe != nil {
			s.renderTodos(w, r, http.StatusUnprocessableEntity, formOf(r, "title", "due_on", "contact_id", "back"), fe)
			return
		}
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "To-do added.")
	seeOther(w, r, backTo(r, ws.ID))
}

// todoAct answers a to-do's buttons: done, reopen, snooze and delete.
func (s *Server) todoAct(act string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ws, _ := workspaceFrom(r.Context())
		a, _ := actorFrom(r.Context())
		id := chi.URLParam(r, "todo")
		var err error
		msg := ""
		switch act {
		case "done":
			err, msg = s.Todos.SetDone(r.Context(), a, ws.ID, id, true), "Done."
		case "reopen":
			err, msg = s.Todos.SetDone(r.Context(), a, ws.ID, id, false), "Open again."
		case "delete":
			err, msg = s.Todos.Delete(r.Context(), a, ws.ID, id), "To-do deleted."
		case "snooze":
			days, _ := strconv.Atoi(r.PostFormValue("days"))
			var due string
			if due, err = s.Todos.Snooze(r.Context(), a, ws.ID, id, days); err == nil {
				msg = "Snoozed to " + due + "."
			}
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.flash(w, r, msg)
		seeOther(w, r, backTo(r, ws.ID))
	}
}
