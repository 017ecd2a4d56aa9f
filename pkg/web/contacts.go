package web

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/campaign"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/phone"
	"github.com/pi-crm/pi-crm/pkg/todo"
)

// rowView is a contact list row with its display strings made in Go: a
// template function call per cell costs more than the query for the page.
type rowView struct {
	ID, Short, Created, First, Last, Email, Phone, Company, Stage, LastContact string
	// URL is the details page; built here from two ids that need no
	// escaping, it is trusted as a URL by the template.
	URL template.URL
}

type contactListData struct {
	Query   contact.Query
	QS      url.Values // the query string, for sort links and "more"
	Page    contact.Page
	Rows    []rowView
	Stages  []list.List
	Tags    []list.List
	Fields  []contact.FieldDef
	NextURL string
	Region  string
}

func (s *Server) listsOf(r *http.Request, wsID string) (stages, tags []list.List, err error) {
	a, _ := actorFrom(r.Context())
	if stages, err = s.Lists.All(r.Context(), a, wsID, list.Stage); err != nil {
		return nil, nil, err
	}
	tags, err = s.Lists.All(r.Context(), a, wsID, list.Tag)
	return stages, tags, err
}

func (s *Server) contactList(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	v := r.URL.Query()
	q := contact.Query{Search: v.Get("q"), StageID: v.Get("stage"), Sort: v.Get("sort"), Asc: v.Get("order") == "asc", After: v.Get("after"), Limit: 20}
	if t := v.Get("tag"); t != "" {
		q.TagIDs = []string{t}
	}
	q.StaleDays, _ = strconv.Atoi(v.Get("stale_days"))
	if fid := v.Get("field"); fid != "" && v.Get("value") != "" {
		q.Custom = map[string]string{fid: v.Get("value")}
	}
	pg, err := s.Contacts.List(r.Context(), a, ws.ID, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := contactListData{Query: q, QS: v, Page: pg, Region: ws.Settings.PhoneRegion}
	loc := s.zone(a.TimeZone)
	d.Rows = make([]rowView, len(pg.Rows))
	for i, r := range pg.Rows {
		rv := rowView{ID: r.ID, Short: r.ID[28:], URL: template.URL("/w/" + ws.ID + "/contacts/" + r.ID), //nolint:gosec // ids are UUIDs
			Created: r.CreatedAt.In(loc).Format("2006-01-02"), First: r.FirstName, Last: r.LastName,
			Email: r.PrimaryEmail, Company: r.Company, Stage: r.Stage, LastContact: "never"}
		if rv.First == "" {
			// The link needs text: the contact's display name (its last
			// name, its company, its email), as every other page shows it.
			rv.First, rv.Last = contact.DisplayName("", r.LastName, r.Company, r.PrimaryEmail), ""
		}
		if r.PrimaryPhone != "" {
			rv.Phone = phone.Format(r.PrimaryPhone, ws.Settings.PhoneRegion)
		}
		if r.LastContactAt != nil {
			rv.LastContact = r.LastContactAt.In(loc).Format("2006-01-02")
		}
		d.Rows[i] = rv
	}
	if pg.Next != "" {
		nv := url.Values{}
		for k, vs := range v {
			nv[k] = vs
		}
		nv.Set("after", pg.Next)
		d.NextURL = "/w/" + ws.ID + "/contacts?" + nv.Encode()
	}
	if r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-Target") != "" {
		// Search-as-you-type and "more" swap in the rows only.
		s.render(w, r, http.StatusOK, "contacts", "contact-rows", &page{Actor: a, Current: &ws, Data: d})
		return
	}
	if d.Stages, d.Tags, err = s.listsOf(r, ws.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Fields, err = s.Contacts.Fields(r.Context(), a, ws.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.pageFor(r, "Contacts · "+ws.Name, &page{Section: "contacts", Data: d})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, http.StatusOK, "contacts", "", p)
}

func (s *Server) contactBulk(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	_ = r.ParseForm()
	ids := r.PostForm["id"]
	var stage *string
	if st := r.PostFormValue("stage_id"); st != "" {
		if st == "none" {
			st = ""
		}
		stage = &st
	}
	tag, op := r.PostFormValue("tag_id"), r.PostFormValue("tag_op")
	if err := s.Contacts.Bulk(r.Context(), a, ws.ID, ids, stage, tag, op != "remove"); err != nil {
		if errs.KindOf(err) == errs.Invalid {
			s.flash(w, r, errs.As(err).Error())
			seeOther(w, r, "/w/"+ws.ID+"/contacts")
			return
		}
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, strconv.Itoa(len(ids))+" contacts updated.")
	seeOther(w, r, "/w/"+ws.ID+"/contacts")
}

type contactFormData struct {
	Form       contactForm
	Stages     []list.List
	Contact    *contact.Contact
	Duplicates []contact.Contact
}

func (s *Server) renderContactForm(w http.ResponseWriter, r *http.Request, status int, name string, d contactFormData, fieldErrs map[string]string, title string) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	var err error
	if d.Stages, err = s.Lists.All(r.Context(), a, ws.ID, list.Stage); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, name, "", s.pageFor(r, title, &page{Section: "contacts", Errors: fieldErrs, Data: d}))
}

func (s *Server) contactNew(w http.ResponseWriter, r *http.Request) {
	f := contactForm{Emails: rows(nil, 2), Phones: rows(nil, 2)}
	s.renderContactForm(w, r, http.StatusOK, "contact_new", contactFormData{Form: f}, nil, "New contact")
}

func (s *Server) contactCreate(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	form, in, ferrs := parseContactForm(r)
	if len(ferrs) > 0 {
		s.renderContactForm(w, r, http.StatusUnprocessableEntity, "contact_new", contactFormData{Form: form}, ferrs, "New contact")
		return
	}
	c, err := s.Contacts.Create(r.Context(), a, ws.ID, in, false)
	if ids := contact.Matches(err); ids != nil {
		s.renderDuplicate(w, r, form, ids)
		return
	}
	if fe := fieldErrors(err); fe != nil {
		s.renderContactForm(w, r, statusOfErr(err), "contact_new", contactFormData{Form: form}, fe, "New contact")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Contact created.")
	seeOther(w, r, "/w/"+ws.ID+"/contacts/"+c.ID)
}

// renderDuplicate shows the new contact beside the existing one(s) it
// duplicates, with the four ways out.
func (s *Server) renderDuplicate(w http.ResponseWriter, r *http.Request, form contactForm, ids []string) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	var dups []contact.Contact
	for _, id := range ids {
		c, err := s.Contacts.Get(r.Context(), a, ws.ID, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		dups = append(dups, c)
	}
	s.renderContactForm(w, r, http.StatusConflict, "contact_duplicate", contactFormData{Form: form, Duplicates: dups}, nil, "Possible duplicate")
}

// contactResolve carries out the user's answer to a duplicate: merge into
// the existing contact, overwrite it, keep both, or cancel.
func (s *Server) contactResolve(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	form, in, _ := parseContactForm(r)
	target := r.PostFormValue("target_id")
	var (
		c   contact.Contact
		err error
	)
	switch r.PostFormValue("action") {
	case "merge":
		ch := contact.MergeChoice{Take: map[string]string{}, PrimaryEmail: r.PostFormValue("primary_email"), PrimaryPhone: r.PostFormValue("primary_phone")}
		for _, f := range contact.MergeFields {
			if r.PostFormValue("take_"+f) == "new" {
				ch.Take[f] = "source"
			}
		}
		c, err = s.Contacts.CreateMerged(r.Context(), a, ws.ID, in, target, ch)
	case "overwrite":
		c, err = s.Contacts.Update(r.Context(), a, ws.ID, target, in, true)
	case "keep":
		c, err = s.Contacts.Create(r.Context(), a, ws.ID, in, true)
	default:
		seeOther(w, r, "/w/"+ws.ID+"/contacts")
		return
	}
	if fe := fieldErrors(err); fe != nil {
		s.renderContactForm(w, r, statusOfErr(err), "contact_new", contactFormData{Form: form}, fe, "New contact")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Saved.")
	seeOther(w, r, "/w/"+ws.ID+"/contacts/"+c.ID)
}

type contactShowData struct {
	Contact  contact.Contact
	Region   string
	Stages   []list.List
	Tags     []list.List
	Tabs     []activity.Tab
	Tab      activity.Tab
	Log      activity.Page
	Notices  []notice
	Fields   []contact.FieldDef
	Users    []auth.User // share candidates
	SharedTo []string
	Form     contactForm
	Now      time.Time
	// Offers are the running drips that ask to enrol who joins their
	// segment, and this contact could join.
	Offers []campaign.Campaign
	// Todos are the contact's open to-dos, pinned at the top; Today is
	// the workspace's date.
	Todos []todo.Todo
	Today string
}

type notice struct{ Kind, Text string }

func (s *Server) loadContactShow(r *http.Request, tab string) (contactShowData, error) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	id := chi.URLParam(r, "contact")
	c, err := s.Contacts.Get(r.Context(), a, ws.ID, id)
	if err != nil {
		return contactShowData{}, err
	}
	d := contactShowData{Contact: c, Region: ws.Settings.PhoneRegion, Tabs: activity.Tabs, Tab: activity.TabByKey(tab), Now: time.Now()}
	if d.Stages, d.Tags, err = s.listsOf(r, ws.ID); err != nil {
		return d, err
	}
	if d.Log, err = s.Contacts.Log(r.Context(), a, ws.ID, id, d.Tab, ""); err != nil {
		return d, err
	}
	if d.SharedTo, err = s.Contacts.SharedWith(r.Context(), a, ws.ID, id); err != nil {
		return d, err
	}
	if d.Fields, err = s.Contacts.Fields(r.Context(), a, ws.ID); err != nil {
		return d, err
	}
	users, err := s.Auth.Users(r.Context())
	if err != nil {
		return d, err
	}
	for _, u := range users {
		if u.ID != a.UserID {
			d.Users = append(d.Users, u)
		}
	}
	d.Form = formFromContact(c)
	if last, ok, err := s.Contacts.LastOf(r.Context(), a, ws.ID, id, activity.Email); err != nil {
		return d, err
	} else if ok {
		d.Notices = append(d.Notices, notice{"info", "Last email " + last.OccurredAt.Format("Jan 2, 2006") + ": " + last.Summary})
	}
	d.Notices = append(d.Notices, notices(c, d)...)
	if d.Offers, err = s.Campaigns.Suggested(r.Context(), a, ws.ID, id); err != nil {
		return d, err
	}
	d.Today = s.todayIn(ws.Settings.TimeZone)
	if d.Todos, err = s.Todos.ForContact(r.Context(), a, ws.ID, id); err != nil {
		return d, err
	}
	return d, nil
}

// notices are the pinned facts at the top of the details page, each shown
// only when it applies.
func notices(c contact.Contact, d contactShowData) []notice {
	var n []notice
	if c.DoNotContact {
		n = append(n, notice{"warn", "Do Not Contact"})
	}
	if c.StageName != "" && c.StageChangedAt != nil {
		n = append(n, notice{"info", "In " + c.StageName + " since " + c.StageChangedAt.Format("Jan 2, 2006")})
	}
	if len(d.SharedTo) > 0 {
		n = append(n, notice{"info", "Shared with " + strconv.Itoa(len(d.SharedTo)) + " user(s)"})
	}
	if c.LastContactAt != nil {
		n = append(n, notice{"info", "Last contact " + c.LastContactAt.Format("Jan 2, 2006")})
	}
	if b := c.Birthday; b != nil {
		now := d.Now
		next := time.Date(now.Year(), time.Month(b.Month), b.Day, 0, 0, 0, 0, time.UTC)
		if next.Before(now.Truncate(24 * time.Hour)) {
			next = next.AddDate(1, 0, 0)
		}
		if days := int(next.Sub(now.Truncate(24*time.Hour)).Hours() / 24); days <= 30 {
			n = append(n, notice{"good", "Birthday in " + strconv.Itoa(days) + " days (" + next.Format("Jan 2") + ")"})
		}
	}
	return n
}

func (s *Server) contactShow(w http.ResponseWriter, r *http.Request) {
	d, err := s.loadContactShow(r, r.URL.Query().Get("tab"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.pageFor(r, d.Contact.Name(), &page{Section: "contacts", Data: d})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, http.StatusOK, "contact", "", p)
}

// contactLog serves one tab of the log, or its older entries, as a fragment.
func (s *Server) contactLog(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	id := chi.URLParam(r, "contact")
	tab := activity.TabByKey(r.URL.Query().Get("tab"))
	c, err := s.Contacts.Get(r.Context(), a, ws.ID, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	lg, err := s.Contacts.Log(r.Context(), a, ws.ID, id, tab, r.URL.Query().Get("before"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := contactShowData{Contact: c, Tabs: activity.Tabs, Tab: tab, Log: lg}
	block := "contact-log"
	if r.URL.Query().Get("before") != "" {
		block = "log-entries"
	}
	s.render(w, r, http.StatusOK, "contact", block, &page{Actor: a, Current: &ws, Data: d})
}

func (s *Server) contactUpdate(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	id := chi.URLParam(r, "contact")
	form, in, ferrs := parseContactForm(r)
	keep := r.PostFormValue("keep_separate") != ""
	if in.SpouseID != nil {
		var err1, err2 error
		*in.SpouseID, err1 = s.contactByEmail(r, ws.ID, id, form.SpouseEmail, "spouse_id", "spouse", ferrs)
		*in.ReferredByID, err2 = s.contactByEmail(r, ws.ID, id, form.ReferredByEmail, "referred_by_id", "referrer", ferrs)
		if err := errors.Join(err1, err2); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	var err error
	if len(ferrs) == 0 {
		_, err = s.Contacts.Update(r.Context(), a, ws.ID, id, in, keep)
	}
	if ids := contact.Matches(err); ids != nil {
		ferrs = map[string]string{"emails": "Another contact already has one of these emails or phones. Tick “keep separate” to save anyway, or merge them from the duplicates page."}
	} else if fe := fieldErrors(err); fe != nil {
		ferrs = fe
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(ferrs) > 0 {
		d, err := s.loadContactShow(r, "")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d.Form = form
		s.render(w, r, http.StatusUnprocessableEntity, "contact", "", s.pageFor(r, d.Contact.Name(), &page{Section: "contacts", Errors: ferrs, Data: d}))
		return
	}
	s.flash(w, r, "Saved.")
	seeOther(w, r, "/w/"+ws.ID+"/contacts/"+id)
}

// contactAction runs one small change on a contact and returns to its page.
func (s *Server) contactAction(do func(r *http.Request, a auth.Actor, wsID, id string) error, done string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ws, _ := workspaceFrom(r.Context())
		a, _ := actorFrom(r.Context())
		id := chi.URLParam(r, "contact")
		err := do(r, a, ws.ID, id)
		if errs.KindOf(err) == errs.Invalid {
			d, lerr := s.loadContactShow(r, "")
			if lerr != nil {
				s.fail(w, r, lerr)
				return
			}
			e := errs.As(err)
			s.render(w, r, http.StatusUnprocessableEntity, "contact", "", s.pageFor(r, d.Contact.Name(), &page{Section: "contacts", Errors: e.Fields, Error: e.Message, Data: d, Form: formOf(r, "note", "duration_minutes", "call_notes")}))
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.flash(w, r, done)
		seeOther(w, r, "/w/"+ws.ID+"/contacts/"+id)
	}
}

func (s *Server) contactStage(r *http.Request, a auth.Actor, wsID, id string) error {
	st := r.PostFormValue("stage_id")
	_, err := s.Contacts.Update(r.Context(), a, wsID, id, contact.Fields{StageID: &st}, false)
	return err
}

func (s *Server) contactTagAdd(r *http.Request, a auth.Actor, wsID, id string) error {
	tag := r.PostFormValue("tag_id")
	if name := r.PostFormValue("new_tag"); name != "" {
		return s.Contacts.AddTagNamed(r.Context(), a, wsID, id, name)
	}
	if tag == "" {
		return errs.Fields{"tag_id": "Choose a tag or name a new one."}.Err()
	}
	return s.Contacts.SetTag(r.Context(), a, wsID, id, tag, true)
}

func (s *Server) contactTagRemove(r *http.Request, a auth.Actor, wsID, id string) error {
	return s.Contacts.SetTag(r.Context(), a, wsID, id, chi.URLParam(r, "list"), false)
}

func (s *Server) contactPromote(r *http.Request, a auth.Actor, wsID, id string) error {
	return s.Contacts.Promote(r.Context(), a, wsID, id, chi.URLParam(r, "item"))
}

func (s *Server) contactNote(r *http.Request, a auth.Actor, wsID, id string) error {
	return s.Contacts.AddNote(r.Context(), a, wsID, id, r.PostFormValue("note"))
}

func (s *Server) contactCall(r *http.Request, a auth.Actor, wsID, id string) error {
	mins, err := strconv.ParseFloat(r.PostFormValue("duration_minutes"), 64)
	if err != nil {
		return errs.Fields{"duration_minutes": "Enter the call's length in minutes."}.Err()
	}
	return s.Contacts.AddCall(r.Context(), a, wsID, id, time.Now(), time.Duration(mins*float64(time.Minute)), r.PostFormValue("call_notes"))
}

func (s *Server) contactShare(r *http.Request, a auth.Actor, wsID, id string) error {
	return s.Contacts.ShareWith(r.Context(), a, wsID, id, r.PostFormValue("viewer_id"))
}

func (s *Server) contactUnshare(r *http.Request, a auth.Actor, wsID, id string) error {
	return s.Contacts.Unshare(r.Context(), a, wsID, id, chi.URLParam(r, "user"))
}

// contactDelete asks first: without confirm=yes it shows what would go,
// and only the confirming form deletes.
func (s *Server) contactDelete(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	if r.PostFormValue("confirm") != "yes" {
		c, err := s.Contacts.Get(r.Context(), a, ws.ID, chi.URLParam(r, "contact"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.render(w, r, http.StatusOK, "contact_delete", "", s.pageFor(r, "Delete "+c.Name(), &page{Section: "contacts", Data: c}))
		return
	}
	if err := s.Contacts.Delete(r.Context(), a, ws.ID, chi.URLParam(r, "contact")); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Contact deleted.")
	seeOther(w, r, "/w/"+ws.ID+"/contacts")
}

// contactByEmail resolves the email typed for a spouse or referrer to a
// contact of the workspace (not self); "" clears the link. No such contact
// is a field error in ferrs; a database error is returned, never shown as one.
func (s *Server) contactByEmail(r *http.Request, wsID, self, email, field, what string, ferrs map[string]string) (string, error) {
	if email == "" {
		return "", nil
	}
	a, _ := actorFrom(r.Context())
	ids, err := s.Contacts.Duplicates(r.Context(), a, wsID, self, []string{email}, nil)
	if err != nil {
		return "", err // the database, not the user: the page says so
	}
	if len(ids) == 0 {
		ferrs[field] = "No other contact in this workspace has that email; add the " + what + " as a contact first."
		return "", nil
	}
	return ids[0], nil
}
