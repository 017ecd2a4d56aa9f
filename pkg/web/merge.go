package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/contact"
)

type mergeData struct {
	Target, Source contact.Contact
	Fields         []mergeField
	Custom         []mergeField // Key is the custom field's id
	Emails, Phones []string
}

type mergeField struct {
	Key, Label, Target, Source string
}

func mergeFields(t, s contact.Contact) []mergeField {
	bd := func(c contact.Contact) string {
		if c.Birthday == nil {
			return ""
		}
		return fmt.Sprintf("%02d/%02d", c.Birthday.Month, c.Birthday.Day)
	}
	ref := func(r *contact.Ref) string {
		if r == nil {
			return ""
		}
		return r.Name
	}
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	all := []mergeField{
		{"first_name", "First name", t.FirstName, s.FirstName},
		{"middle_name", "Middle name", t.MiddleName, s.MiddleName},
		{"last_name", "Last name", t.LastName, s.LastName},
		{"nickname", "Nickname", t.Nickname, s.Nickname},
		{"company", "Company", t.Company, s.Company},
		{"job_title", "Job title", t.JobTitle, s.JobTitle},
		{"website", "Website", t.Website, s.Website},
		{"address", "Address", t.Address, s.Address},
		{"stage", "Stage", t.StageName, s.StageName},
		{"birthday", "Birthday", bd(t), bd(s)},
		{"marital_status", "Marital status", t.MaritalStatus, s.MaritalStatus},
		{"spouse", "Spouse", ref(t.Spouse), ref(s.Spouse)},
		{"children", "Children", t.Children, s.Children},
		{"pets", "Pets", t.Pets, s.Pets},
		{"referred_by", "Referred by", t.ReferredBy, s.ReferredBy},
		{"file_notes", "Loan file notes", t.FileNotes, s.FileNotes},
		{"do_not_contact", "Do not contact", yes(t.DoNotContact), yes(s.DoNotContact)},
	}
	var out []mergeField
	for _, f := range all {
		if f.Target != "" || f.Source != "" {
			out = append(out, f)
		}
	}
	return out
}

func (s *Server) mergeShow(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	t, err := s.Contacts.Get(r.Context(), a, ws.ID, chi.URLParam(r, "contact"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	src, err := s.Contacts.Get(r.Context(), a, ws.ID, r.URL.Query().Get("with"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := mergeData{Target: t, Source: src, Fields: mergeFields(t, src)}
	defs, err := s.Contacts.Fields(r.Context(), a, ws.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, f := range defs {
		tv, sv := t.Custom[f.ID], src.Custom[f.ID]
		if tv != sv && (tv != "" || sv != "") {
			d.Custom = append(d.Custom, mergeField{Key: f.ID, Label: f.Name, Target: tv, Source: sv})
		}
	}
	seen := map[string]bool{}
	for _, e := range append(append([]contact.Email{}, t.Emails...), src.Emails...) {
		if !seen[e.Address] {
			seen[e.Address] = true
			d.Emails = append(d.Emails, e.Address)
		}
	}
	for _, p := range append(append([]contact.Phone{}, t.Phones...), src.Phones...) {
		if !seen[p.Number] {
			seen[p.Number] = true
			d.Phones = append(d.Phones, p.Number)
		}
	}
	s.render(w, r, http.StatusOK, "contact_merge", "", s.pageFor(r, "Merge contacts", &page{Section: "contacts", Data: d}))
}

func (s *Server) mergeDo(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	target := chi.URLParam(r, "contact")
	ch := contact.MergeChoice{Take: map[string]string{}, PrimaryEmail: r.PostFormValue("primary_email"), PrimaryPhone: r.PostFormValue("primary_phone")}
	for _, f := range contact.MergeFields {
		if r.PostFormValue("take_"+f) == "source" {
			ch.Take[f] = "source"
		}
	}
	_ = r.ParseForm()
	for k, v := range r.PostForm {
		if fid, ok := strings.CutPrefix(k, "takecustom_"); ok && len(v) > 0 && v[0] == "source" {
			ch.TakeCustom = append(ch.TakeCustom, fid)
		}
	}
	c, err := s.Contacts.Merge(r.Context(), a, ws.ID, target, r.PostFormValue("source_id"), ch)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Contacts merged.")
	seeOther(w, r, "/w/"+ws.ID+"/contacts/"+c.ID)
}

func (s *Server) duplicates(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	groups, err := s.Contacts.DuplicateGroups(r.Context(), a, ws.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.pageFor(r, "Possible duplicates", &page{Section: "duplicates", Data: groups})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, http.StatusOK, "duplicates", "", p)
}

// duplicatesSeparate marks a group of the duplicates page as different
// people.
func (s *Server) duplicatesSeparate(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	if err := s.Contacts.KeepSeparate(r.Context(), a, ws.ID, r.PostForm["id"]); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "They are no longer listed as duplicates.")
	seeOther(w, r, "/w/"+ws.ID+"/duplicates")
}
