package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/campaign"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/errs"
)

// campaignFormData is the campaign form.
type campaignFormData struct {
	segmentChoices
	Campaign  *campaign.Campaign
	Templates []emailtemplate.Template
	// ContactIDs are the contacts picked by hand on the contact list.
	ContactIDs []string
	// StepRows are the drip's step rows (1-based), the filled ones and
	// room for more.
	StepRows []int
}

// stepKeys are a drip step's form keys, each followed by its number.
var stepKeys = []string{"step_tpl_", "step_text_", "step_days_", "step_hours_", "step_from_", "step_to_", "step_weekdays_"}

// campaignForm is what the form posts, for the store and to show again:
// its values, the stages and tags checked and the contacts picked.
func campaignForm(r *http.Request) (map[string]string, []string, []string) {
	form := formOf(r, append([]string{"name", "kind", "on_join", "template_id", "send_at"}, segmentKeys...)...)
	for i := 1; i <= campaign.MaxSteps; i++ {
		for _, k := range stepKeys {
			if v := r.PostFormValue(fmt.Sprintf("%s%d", k, i)); v != "" {
				form[fmt.Sprintf("%s%d", k, i)] = v
			}
		}
	}
	return form, append(append([]string{}, r.PostForm["stage_id"]...), r.PostForm["tag_id"]...), r.PostForm["contact_id"]
}

func (s *Server) renderCampaignForm(w http.ResponseWriter, r *http.Request, status int, c *campaign.Campaign, form map[string]string, checked, picked []string, fe map[string]string) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	ch, err := s.choices(r, a, ws, checked)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := campaignFormData{segmentChoices: ch, Campaign: c, ContactIDs: picked}
	if d.Templates, err = s.Templates.List(r.Context(), a, ws.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	filled := 0
	for i := 1; i <= campaign.MaxSteps; i++ {
		if form[fmt.Sprintf("step_tpl_%d", i)] != "" || form[fmt.Sprintf("step_text_%d", i)] != "" {
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

// campaignChange reads the form into a campaign change, in the
// workspace's time zone; a number or a time that does not read is a field
// error.
func (s *Server) campaignChange(r *http.Request, form map[string]string) (campaign.Change, map[string]string) {
	ws, _ := workspaceFrom(r.Context())
	fe := map[string]string{}
	num := func(k string) int {
		v := strings.TrimSpace(form[k])
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			fe["steps"] = "Enter the waits as numbers of days and hours."
		}
		return n
	}
	ch := campaign.Change{Name: form["name"], Kind: form["kind"], AutoEnroll: form["on_join"] == "auto", AskEnroll: form["on_join"] == "ask",
		TemplateID: form["template_id"], SegmentID: form["segment_id"], Segment: s.segmentOfForm(r, ws, form, fe)}
	if ch.Kind == campaign.Drip {
		for i := 1; i <= campaign.MaxSteps; i++ {
			key := func(k string) string { return form[fmt.Sprintf("%s%d", k, i)] }
			if key("step_tpl_") == "" && strings.TrimSpace(key("step_text_")) == "" {
				continue
			}
			days, hours := num(fmt.Sprintf("step_days_%d", i)), num(fmt.Sprintf("step_hours_%d", i))
			ch.Steps = append(ch.Steps, campaign.Step{TemplateID: key("step_tpl_"), Text: key("step_text_"),
				Delay:  time.Duration(days)*24*time.Hour + time.Duration(hours)*time.Hour,
				Window: campaign.Window{Start: key("step_from_"), End: key("step_to_"), Weekdays: key("step_weekdays_") != ""}})
		}
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
	// and a quick segment's stages as stage_id=...
	q := r.URL.Query()
	within := q.Get("not_within_days")
	if within == "" {
		within = "7"
	}
	form := map[string]string{"not_within_days": within, "name": q.Get("name"), "kind": q.Get("kind"), "stale_days": q.Get("stale_days"), "segment_id": q.Get("segment_id")}
	s.renderCampaignForm(w, r, http.StatusOK, nil, form, q["stage_id"], q["id"], nil)
}

func (s *Server) campaignCreate(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	form, checked, picked := campaignForm(r)
	ch, fe := s.campaignChange(r, form)
	if len(fe) > 0 {
		s.renderCampaignForm(w, r, http.StatusUnprocessableEntity, nil, form, checked, picked, fe)
		return
	}
	c, err := s.Campaigns.Create(r.Context(), a, ws.ID, ch)
	if fe := fieldErrors(err); fe != nil {
		s.renderCampaignForm(w, r, statusOfErr(err), nil, form, checked, picked, fe)
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
	onJoin := map[bool]string{true: "auto"}[c.AutoEnroll]
	if c.AskEnroll {
		onJoin = "ask"
	}
	form := map[string]string{"name": c.Name, "kind": c.Kind, "template_id": c.TemplateID, "on_join": onJoin, "segment_id": c.SegmentID}
	for i, st := range c.Steps {
		n := strconv.Itoa(i + 1)
		form["step_tpl_"+n], form["step_text_"+n], form["step_from_"+n], form["step_to_"+n] = st.TemplateID, st.Text, st.Window.Start, st.Window.End
		if st.Window.Weekdays {
			form["step_weekdays_"+n] = "1"
		}
		if d := int(st.Delay / (24 * time.Hour)); d > 0 {
			form["step_days_"+n] = strconv.Itoa(d)
		}
		if h := int(st.Delay%(24*time.Hour)) / int(time.Hour); h > 0 {
			form["step_hours_"+n] = strconv.Itoa(h)
		}
	}
	checked := s.segmentFormValues(ws, c.Segment, form)
	if !c.SendAt.IsZero() {
		form["send_at"] = c.SendAt.In(s.zone(ws.Settings.TimeZone)).Format("2006-01-02T15:04")
	}
	s.renderCampaignForm(w, r, http.StatusOK, &c, form, checked, c.Segment.ContactIDs, nil)
}

func (s *Server) campaignUpdate(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	c, err := s.Campaigns.Get(r.Context(), a, ws.ID, chi.URLParam(r, "campaign"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	form, checked, picked := campaignForm(r)
	ch, fe := s.campaignChange(r, form)
	if len(fe) > 0 {
		s.renderCampaignForm(w, r, http.StatusUnprocessableEntity, &c, form, checked, picked, fe)
		return
	}
	_, err = s.Campaigns.Update(r.Context(), a, ws.ID, c.ID, ch)
	if fe := fieldErrors(err); fe != nil {
		s.renderCampaignForm(w, r, statusOfErr(err), &c, form, checked, picked, fe)
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
	SegmentName  string // the saved segment it goes to
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
	if c.SegmentID != "" {
		if sg, err := s.Campaigns.Segment(r.Context(), a, ws.ID, c.SegmentID); err == nil {
			d.SegmentName = sg.Name
		}
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

// campaignEnroll puts a contact on a running drip by hand (the offer on
// their page), and goes back there.
func (s *Server) campaignEnroll(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	id, contactID := chi.URLParam(r, "campaign"), r.PostFormValue("contact_id")
	err := s.Campaigns.Enroll(r.Context(), a, ws.ID, id, contactID)
	msg, refused := refusal(err)
	if err != nil && !refused {
		s.fail(w, r, err)
		return
	}
	if !refused {
		msg = "Enrolled: the drip's first step goes when it falls due."
	}
	s.flash(w, r, msg)
	seeOther(w, r, "/w/"+ws.ID+"/contacts/"+contactID)
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
		if m, ok := refusal(err); ok {
			msg, err = m, nil
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.flash(w, r, msg)
		seeOther(w, r, "/w/"+ws.ID+"/campaigns/"+id)
	}
}

// refusal is what to say of err when it is a refusal (a conflict, or a
// field the user must fix) rather than a failure.
func refusal(err error) (string, bool) {
	k := errs.KindOf(err)
	if err == nil || k != errs.Conflict && k != errs.Invalid {
		return "", false
	}
	e := errs.As(err)
	if len(e.Fields) > 0 {
		return firstOf(e.Fields), true
	}
	return e.Message, true
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
