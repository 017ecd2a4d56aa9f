package web

import (
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
}

// campaignForm is what the form posts, for the store and to show again.
func campaignForm(r *http.Request) (map[string]string, []string, []string) {
	form := formOf(r, "name", "template_id", "stage_id", "stale_days", "not_within_days", "send_at", "custom_field", "custom_value", "created_since")
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
	ch := campaign.Change{Name: form["name"], TemplateID: form["template_id"],
		Segment: campaign.Segment{StageID: form["stage_id"], TagIDs: tags, ContactIDs: picked, StaleDays: num("stale_days"), NotWithinDays: num("not_within_days")}}
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
	form := map[string]string{"name": c.Name, "template_id": c.TemplateID, "stage_id": g.StageID}
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
	if c.Status == campaign.Sent {
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
			if l.Scheduled {
				msg = "Scheduled: it goes at its time."
			}
		case "cancel":
			err = s.Campaigns.Cancel(r.Context(), a, ws.ID, id)
			msg = "Cancelled: nothing more of it is sent."
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
