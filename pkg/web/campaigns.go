package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/campaign"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/list"
)

// campaignFormData is the campaign form.
type campaignFormData struct {
	Campaign  *campaign.Campaign
	Templates []emailtemplate.Template
	Stages    []list.List
	Tags      []list.List
	Fields    []contact.FieldDef
	Picked    map[string]bool // tags checked
	// ContactIDs are the contacts picked by hand on the contact list.
	ContactIDs []string
	// StepRows are the drip's step rows (1-based), the filled ones and
	// room for more.
	StepRows []int
}

// campaignForm is what the form posts, for the store and to show again.
func campaignForm(r *http.Request) (map[string]string, []string, []string) {
	form := formOf(r, "name", "kind", "auto_enroll", "template_id", "stage_id", "stale_days", "not_within_days", "send_at", "custom_field", "custom_value", "created_since")
	for i := 1; i <= campaign.MaxSteps; i++ {
		for _, k := range []string{"step_tpl_", "step_days_", "step_hours_"} {
			if v := r.PostFormValue(fmt.Sprintf("%s%d", k, i)); v != "" {
				form[fmt.Sprintf("%s%d", k, i)] = v
			}
		}
	}
	return form, r.PostForm["tag_id"], r.PostForm["contact_id"]
}

func (s *Server) renderCampaignForm(w http.ResponseWriter, r *http.Request, status int, c *campaign.Campaign, form map[string]string, tags, picked []string, fe map[string]string) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	d := campaignFormData{Campaign: c, Picked: map[string]bool{}, ContactIDs: picked}
	var err error
	if d.Templates, err = s.Templates.List(r.Context(), a, ws.ID); err == nil {
		if d.Stages, err = s.Lists.All(r.Context(), a, ws.ID, list.Stage); err == nil {
			if d.Tags, err = s.Lists.All(r.Context(), a, ws.ID, list.Tag); err == nil {
				d.Fields, err = s.Contacts.Fields(r.Context(), a, ws.ID)
			}
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, t := range tags {
		d.Picked[t] = true
	}
	filled := 0
	for i := 1; i <= campaign.MaxSteps; i++ {
		if form[fmt.Sprintf("step_tpl_%d", i)] != "" {
			filled = i
		}
	}
	for i := 1; i <= min(max(filled+2, 3), campaign.MaxSteps); i++ {
		d.StepRows = append(d.StepRows, i)
	}
	title := "New campaign"
	if c != nil {
		title = "Edit " + c.Name
	}
	s.render(w, r, status, "campaign_form", "", s.pageFor(r, title, &page{Section: "campaigns", Data: d, Form: form, Errors: fe}))
}

// change reads the form into a campaign change, in the workspace's time
// zone; a number or a time that does not read is a field error.
func (s *Server) campaignChange(r *http.Request, form map[string]string, tags, picked []string) (campaign.Change, map[string]string) {
	ws, _ := workspaceFrom(r.Context())
	fe := map[string]string{}
	num := func(k string) int {
		v := strings.TrimSpace(form[k])
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			fe[k] = "Enter a number of days, or leave it empty."
		}
		return n
	}
	ch := campaign.Change{Name: form["name"], Kind: form["kind"], AutoEnroll: form["auto_enroll"] != "", TemplateID: form["template_id"],
		Segment: campaign.Segment{StageID: form["stage_id"], TagIDs: tags, ContactIDs: picked, StaleDays: num("stale_days"), NotWithinDays: num("not_within_days")}}
	if ch.Kind == campaign.Drip {
		for i := 1; i <= campaign.MaxSteps; i++ {
			tpl := form[fmt.Sprintf("step_tpl_%d", i)]
			if tpl == "" {
				continue
			}
			days, hours := num(fmt.Sprintf("step_days_%d", i)), num(fmt.Sprintf("step_hours_%d", i))
			ch.Steps = append(ch.Steps, campaign.Step{TemplateID: tpl, Delay: time.Duration(days)*24*time.Hour + time.Duration(hours)*time.Hour})
		}
	}
	if fid := form["custom_field"]; fid != "" {
		ch.Segment.Custom = map[string]string{fid: strings.TrimSpace(form["custom_value"])}
	}
	if v := strings.TrimSpace(form["created_since"]); v != "" {
		t, err := time.ParseInLocation("2006-01-02", v, s.zone(ws.Settings.TimeZone))
		if err != nil {
			fe["created_since"] = "Enter a date, or leave it empty."
		}
		ch.Segment.CreatedSince = t
	}
	if v := strings.TrimSpace(form["send_at"]); v != "" {
		t, err := time.ParseInLocation("2006-01-02T15:04", v, s.zone(ws.Settings.TimeZone))
		if err != nil {
			fe["send_at"] = "Enter a date and time, or leave it empty to send when launched."
		}
		ch.SendAt = t
	}
	return ch, fe
}

func (s *Server) campaignsList(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	all, err := s.Campaigns.List(r.Context(), a, ws.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.pageFor(r, "Campaigns · "+ws.Name, &page{Section: "campaigns", Data: all})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, http.StatusOK, "campaigns", "", p)
}

func (s *Server) campaignNew(w http.ResponseWriter, r *http.Request) {
	// Contacts picked on the contact list arrive as id=...
	s.renderCampaignForm(w, r, http.StatusOK, nil, map[string]string{"not_within_days": "7"}, nil, r.URL.Query()["id"], nil)
}

func (s *Server) campaignCreate(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	form, tags, picked := campaignForm(r)
	ch, fe := s.campaignChange(r, form, tags, picked)
	if len(fe) > 0 {
		s.renderCampaignForm(w, r, http.StatusUnprocessableEntity, nil, form, tags, picked, fe)
		return
	}
	c, err := s.Campaigns.Create(r.Context(), a, ws.ID, ch)
	if fe := fieldErrors(err); fe != nil {
		s.renderCampaignForm(w, r, statusOfErr(err), nil, form, tags, picked, fe)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	seeOther(w, r, "/w/"+ws.ID+"/campaigns/"+c.ID)
}

func (s *Server) campaignEdit(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	c, err := s.Campaigns.Get(r.Context(), a, ws.ID, chi.URLParam(r, "campaign"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	g := c.Segment
	form := map[string]string{"name": c.Name, "kind": c.Kind, "template_id": c.TemplateID, "stage_id": g.StageID, "auto_enroll": map[bool]string{true: "1"}[c.AutoEnroll]}
	for i, st := range c.Steps {
		form[fmt.Sprintf("step_tpl_%d", i+1)] = st.TemplateID
		if d := int(st.Delay / (24 * time.Hour)); d > 0 {
			form[fmt.Sprintf("step_days_%d", i+1)] = strconv.Itoa(d)
		}
		if h := int(st.Delay%(24*time.Hour)) / int(time.Hour); h > 0 {
			form[fmt.Sprintf("step_hours_%d", i+1)] = strconv.Itoa(h)
		}
	}
	if g.StaleDays > 0 {
		form["stale_days"] = strconv.Itoa(g.StaleDays)
	}
	if g.NotWithinDays > 0 {
		form["not_within_days"] = strconv.Itoa(g.NotWithinDays)
	}
	for fid, v := range g.Custom {
		form["custom_field"], form["custom_value"] = fid, v
	}
	if !g.CreatedSince.IsZero() {
		form["created_since"] = g.CreatedSince.In(s.zone(ws.Settings.TimeZone)).Format("2006-01-02")
	}
	if !c.SendAt.IsZero() {
		form["send_at"] = c.SendAt.In(s.zone(ws.Settings.TimeZone)).Format("2006-01-02T15:04")
	}
	s.renderCampaignForm(w, r, http.StatusOK, &c, form, g.TagIDs, g.ContactIDs, nil)
}

func (s *Server) campaignUpdate(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	c, err := s.Campaigns.Get(r.Context(), a, ws.ID, chi.URLParam(r, "campaign"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	form, tags, picked := campaignForm(r)
	ch, fe := s.campaignChange(r, form, tags, picked)
	if len(fe) > 0 {
		s.renderCampaignForm(w, r, http.StatusUnprocessableEntity, &c, form, tags, picked, fe)
		return
	}
	_, err = s.Campaigns.Update(r.Context(), a, ws.ID, c.ID, ch)
	if fe := fieldErrors(err); fe != nil {
		s.renderCampaignForm(w, r, statusOfErr(err), &c, form, tags, picked, fe)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	seeOther(w, r, "/w/"+ws.ID+"/campaigns/"+c.ID)
}

// campaignData is a campaign's page.
type campaignData struct {
	Campaign     campaign.Campaign
	Enrolled     []enrolledRow
	StepNames    map[string]string // template id -> name
	Counts       map[string]int    // active, done, exited
	Template     string
	NeedApproval bool
	Gets         []campaign.Recipient
	Left         []campaign.Recipient
	Stats        campaign.Stats
}

func (s *Server) campaignShow(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	c, err := s.Campaigns.Get(r.Context(), a, ws.ID, chi.URLParam(r, "campaign"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := campaignData{Campaign: c, NeedApproval: ws.Settings.CampaignsNeedApproval}
	if t, err := s.Templates.Get(r.Context(), a, ws.ID, c.TemplateID); err == nil {
		d.Template = t.Name
	}
	d.StepNames = map[string]string{}
	for _, st := range c.Steps {
		if t, err := s.Templates.Get(r.Context(), a, ws.ID, st.TemplateID); err == nil {
			d.StepNames[st.TemplateID] = t.Name
		}
	}
	if c.Kind == campaign.Drip && c.Status != campaign.Draft && c.Status != campaign.Pending && c.Status != campaign.Approved && c.Status != campaign.Rejected {
		es, err := s.Campaigns.Enrollments(r.Context(), a, ws.ID, c.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d.Counts = map[string]int{}
		for _, e := range es {
			d.Counts[e.Status]++
			if len(d.Enrolled) < 100 {
				name := ""
				if ct, err := s.Contacts.Get(r.Context(), a, ws.ID, e.ContactID); err == nil {
					name = ct.Name()
				}
				d.Enrolled = append(d.Enrolled, enrolledRow{Enrollment: e, Name: name})
			}
		}
		if d.Stats, err = s.Campaigns.StatsOf(r.Context(), a, ws.ID, c.ID); err != nil {
			s.fail(w, r, err)
			return
		}
	} else if c.Status == campaign.Sent {
		if d.Stats, err = s.Campaigns.StatsOf(r.Context(), a, ws.ID, c.ID); err != nil {
			s.fail(w, r, err)
			return
		}
	} else {
		rs, err := s.Campaigns.Recipients(r.Context(), a, ws.ID, c.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, x := range rs {
			if x.Excluded == "" {
				d.Gets = append(d.Gets, x)
			} else {
				d.Left = append(d.Left, x)
			}
		}
	}
	p := s.pageFor(r, c.Name, &page{Section: "campaigns", Data: d})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, http.StatusOK, "campaign", "", p)
}

// enrolledRow is one contact of a drip on its page.
type enrolledRow struct {
	campaign.Enrollment
	Name string
}

// campaignUnenroll takes a contact off a drip.
func (s *Server) campaignUnenroll(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	id := chi.URLParam(r, "campaign")
	if err := s.Campaigns.Unenroll(r.Context(), a, ws.ID, id, r.PostFormValue("contact_id")); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Taken off the drip: no more of its steps go to them.")
	seeOther(w, r, "/w/"+ws.ID+"/campaigns/"+id)
}

// campaignAct runs a step on the campaign (submit, launch, cancel) and
// says what happened; a refusal is said, not a failure page.
func (s *Server) campaignAct(step string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ws, _ := workspaceFrom(r.Context())
		a, _ := actorFrom(r.Context())
		id := chi.URLParam(r, "campaign")
		var msg string
		var err error
		switch step {
		case "submit":
			_, err = s.Campaigns.Submit(r.Context(), a, ws.ID, id)
			msg = "Submitted: it waits for the approver."
		case "launch":
			var l campaign.Launched
			l, err = s.Campaigns.Launch(r.Context(), a, ws.ID, id)
			msg = plural(l.Enqueued, "message", "messages") + " queued; " + plural(l.Excluded, "contact", "contacts") + " left out."
			if l.Campaign.Kind == campaign.Drip {
				msg = plural(l.Enqueued, "contact", "contacts") + " enrolled; " + plural(l.Excluded, "contact", "contacts") + " left out. Its steps go as they fall due."
			}
			if l.Scheduled {
				msg = "Scheduled: it goes at its time."
			}
		case "cancel":
			err = s.Campaigns.Cancel(r.Context(), a, ws.ID, id)
			msg = "Cancelled: nothing more of it is sent."
		case "pause":
			err = s.Campaigns.Pause(r.Context(), a, ws.ID, id)
			msg = "Paused: every contact keeps their place."
		case "resume":
			err = s.Campaigns.Resume(r.Context(), a, ws.ID, id)
			msg = "Resumed: the steps go on from where each contact is."
		}
		if k := errs.KindOf(err); err != nil && (k == errs.Conflict || k == errs.Invalid) {
			e := errs.As(err)
			msg, err = e.Message, nil
			if len(e.Fields) > 0 {
				msg = firstOf(e.Fields)
			}
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.flash(w, r, msg)
		seeOther(w, r, "/w/"+ws.ID+"/campaigns/"+id)
	}
}

// approvals is the approver's queue: every campaign waiting for them.
func (s *Server) approvals(w http.ResponseWriter, r *http.Request) {
	a, _ := actorFrom(r.Context())
	pending, err := s.Campaigns.PendingFor(r.Context(), a)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.pageFor(r, "Approvals", &page{Section: "approvals", Data: pending})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, http.StatusOK, "approvals", "", p)
}

// approvalData is one campaign as its approver sees it.
type approvalData struct {
	Campaign campaign.Campaign
	Review   campaign.Review
}

func (s *Server) approvalShow(w http.ResponseWriter, r *http.Request) {
	s.renderApproval(w, r, http.StatusOK, nil, nil)
}

func (s *Server) renderApproval(w http.ResponseWriter, r *http.Request, status int, form, fe map[string]string) {
	a, _ := actorFrom(r.Context())
	rv, err := s.Campaigns.ForReview(r.Context(), a, chi.URLParam(r, "campaign"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, "approval", "", s.pageFor(r, "Approve "+rv.Campaign.Name, &page{Section: "approvals", Data: approvalData{Campaign: rv.Campaign, Review: rv}, Form: form, Errors: fe}))
}

func (s *Server) approvalDecide(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, _ := actorFrom(r.Context())
		form := formOf(r, "notes", "version")
		version, _ := strconv.Atoi(form["version"])
		id := chi.URLParam(r, "campaign")
		var err error
		if approve {
			_, err = s.Campaigns.Approve(r.Context(), a, id, version, form["notes"])
		} else {
			_, err = s.Campaigns.Reject(r.Context(), a, id, version, form["notes"])
		}
		if fe := fieldErrors(err); fe != nil && errs.KindOf(err) == errs.Invalid {
			s.renderApproval(w, r, statusOfErr(err), form, fe)
			return
		}
		if errs.KindOf(err) == errs.Conflict {
			s.flash(w, r, errs.As(err).Message)
			seeOther(w, r, "/approvals")
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.flash(w, r, map[bool]string{true: "Approved: its author can launch it.", false: "Sent back to its author with your notes."}[approve])
		seeOther(w, r, "/approvals")
	}
}
