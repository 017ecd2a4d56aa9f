package api

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/campaign"
)

// campaignJSON is a campaign as the API shows it.
type campaignJSON struct {
	ID              string           `json:"id"`
	Name            string           `json:"name"`
	Kind            string           `json:"kind"`
	Steps           []stepJSON       `json:"steps"`
	AutoEnroll      bool             `json:"auto_enroll"`
	AskEnroll       bool             `json:"ask_enroll"`
	TemplateID      string           `json:"template_id"`
	Segment         campaign.Segment `json:"segment"`
	SegmentID       string           `json:"segment_id"`
	Status          campaign.Status  `json:"status"`
	SendAt          *time.Time       `json:"send_at"`
	Version         int              `json:"version"`
	ApprovedVersion int              `json:"approved_version"`
	ReviewNotes     string           `json:"review_notes"`
	Enqueued        int              `json:"enqueued"`
	CreatedAt       time.Time        `json:"created_at"`
	UpdatedAt       time.Time        `json:"updated_at"`
}

// stepJSON is one step of a drip: an email (template_id) or a text.
type stepJSON struct {
	DelayMinutes int             `json:"delay_minutes"`
	TemplateID   string          `json:"template_id,omitempty"`
	Text         string          `json:"text,omitempty"`
	Window       campaign.Window `json:"window,omitzero"`
}

func campaignOut(c campaign.Campaign) campaignJSON {
	steps := make([]stepJSON, 0, len(c.Steps))
	for _, st := range c.Steps {
		steps = append(steps, stepJSON{DelayMinutes: int(st.Delay / time.Minute), TemplateID: st.TemplateID, Text: st.Text, Window: st.Window})
	}
	out := campaignJSON{ID: c.ID, Name: c.Name, Kind: c.Kind, Steps: steps, AutoEnroll: c.AutoEnroll, AskEnroll: c.AskEnroll, TemplateID: c.TemplateID,
		Segment: c.Segment, SegmentID: c.SegmentID, Status: c.Status, Version: c.Version,
		ApprovedVersion: c.ApprovedVersion, ReviewNotes: c.ReviewNotes, Enqueued: c.Enqueued, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if !c.SendAt.IsZero() {
		out.SendAt = &c.SendAt
	}
	return out
}

func campaignsOut(all []campaign.Campaign) []campaignJSON {
	items := make([]campaignJSON, 0, len(all))
	for _, c := range all {
		items = append(items, campaignOut(c))
	}
	return items
}

// campaignInput is what a create or a (whole) update takes.
type campaignInput struct {
	Name       string           `json:"name"`
	Kind       string           `json:"kind"`
	Steps      []stepJSON       `json:"steps"`
	AutoEnroll bool             `json:"auto_enroll"`
	AskEnroll  bool             `json:"ask_enroll"`
	TemplateID string           `json:"template_id"`
	Segment    campaign.Segment `json:"segment"`
	SegmentID  string           `json:"segment_id"`
	SendAt     *time.Time       `json:"send_at"`
}

func (in campaignInput) change() campaign.Change {
	ch := campaign.Change{Name: in.Name, Kind: in.Kind, AutoEnroll: in.AutoEnroll, AskEnroll: in.AskEnroll, TemplateID: in.TemplateID, Segment: in.Segment, SegmentID: in.SegmentID}
	for _, st := range in.Steps {
		ch.Steps = append(ch.Steps, campaign.Step{Delay: time.Duration(st.DelayMinutes) * time.Minute, TemplateID: st.TemplateID, Text: st.Text, Window: st.Window})
	}
	if in.SendAt != nil {
		ch.SendAt = *in.SendAt
	}
	return ch
}

func (h *Handler) campaignList(w http.ResponseWriter, r *http.Request) {
	all, err := h.campaigns.List(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, map[string]any{"items": campaignsOut(all), "next": ""})
}

func (h *Handler) campaignCreate(w http.ResponseWriter, r *http.Request) {
	var in campaignInput
	if err := decode(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	c, err := h.campaigns.Create(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), in.change())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusCreated, campaignOut(c))
}

func (h *Handler) campaignGet(w http.ResponseWriter, r *http.Request) {
	c, err := h.campaigns.Get(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "campaign"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, campaignOut(c))
}

func (h *Handler) campaignUpdate(w http.ResponseWriter, r *http.Request) {
	var in campaignInput
	if err := decode(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	c, err := h.campaigns.Update(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "campaign"), in.change())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, campaignOut(c))
}

// recipientJSON is one contact a campaign names.
type recipientJSON struct {
	ContactID string `json:"contact_id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Phone     string `json:"phone,omitempty"`
	Excluded  string `json:"excluded,omitempty"`
}

func recipientsOut(rs []campaign.Recipient) []recipientJSON {
	items := make([]recipientJSON, 0, len(rs))
	for _, x := range rs {
		items = append(items, recipientJSON{ContactID: x.ContactID, Name: x.Name, Email: x.Email, Phone: x.Phone, Excluded: x.Excluded})
	}
	return items
}

func (h *Handler) campaignRecipients(w http.ResponseWriter, r *http.Request) {
	rs, err := h.campaigns.Recipients(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "campaign"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, map[string]any{"items": recipientsOut(rs), "next": ""})
}

func (h *Handler) campaignSubmit(w http.ResponseWriter, r *http.Request) {
	c, err := h.campaigns.Submit(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "campaign"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, campaignOut(c))
}

func (h *Handler) campaignLaunch(w http.ResponseWriter, r *http.Request) {
	l, err := h.campaigns.Launch(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "campaign"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, map[string]any{"campaign": campaignOut(l.Campaign), "scheduled": l.Scheduled, "enqueued": l.Enqueued, "excluded": l.Excluded})
}

func (h *Handler) campaignCancel(w http.ResponseWriter, r *http.Request) {
	a, ws, id := actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "campaign")
	if err := h.campaigns.Cancel(r.Context(), a, ws, id); err != nil {
		h.fail(w, r, err)
		return
	}
	c, err := h.campaigns.Get(r.Context(), a, ws, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, campaignOut(c))
}

// campaignFlip pauses or resumes a drip.
func (h *Handler) campaignFlip(pause bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, ws, id := actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "campaign")
		do := h.campaigns.Resume
		if pause {
			do = h.campaigns.Pause
		}
		if err := do(r.Context(), a, ws, id); err != nil {
			h.fail(w, r, err)
			return
		}
		h.campaignGet(w, r)
	}
}

// enrollmentJSON is where one contact stands in a drip.
type enrollmentJSON struct {
	ContactID  string    `json:"contact_id"`
	NextStep   int       `json:"next_step"`
	NextAt     time.Time `json:"next_at"`
	Status     string    `json:"status"`
	ExitReason string    `json:"exit_reason,omitempty"`
}

func (h *Handler) campaignEnrollments(w http.ResponseWriter, r *http.Request) {
	es, err := h.campaigns.Enrollments(r.Context(), actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "campaign"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	items := make([]enrollmentJSON, 0, len(es))
	for _, e := range es {
		items = append(items, enrollmentJSON{ContactID: e.ContactID, NextStep: e.NextStep, NextAt: e.NextAt, Status: e.Status, ExitReason: e.ExitReason})
	}
	ok(w, http.StatusOK, map[string]any{"items": items, "next": ""})
}

func (h *Handler) campaignUnenroll(w http.ResponseWriter, r *http.Request) {
	a, ws, id := actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "campaign")
	if err := h.campaigns.Unenroll(r.Context(), a, ws, id, chi.URLParam(r, "contact")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// campaignEnroll puts a contact on a running drip: {"contact_id"}.
func (h *Handler) campaignEnroll(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ContactID string `json:"contact_id"`
	}
	if err := decode(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	a, ws, id := actorFrom(r.Context()), chi.URLParam(r, "ws"), chi.URLParam(r, "campaign")
	if err := h.campaigns.Enroll(r.Context(), a, ws, id, in.ContactID); err != nil {
		h.fail(w, r, err)
		return
	}
	h.campaignEnrollments(w, r)
}

func (h *Handler) approvalList(w http.ResponseWriter, r *http.Request) {
	all, err := h.campaigns.PendingFor(r.Context(), actorFrom(r.Context()))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, http.StatusOK, map[string]any{"items": campaignsOut(all), "next": ""})
}

// approvalDecide approves or rejects a pending campaign: {"version", "notes"}.
func (h *Handler) approvalDecide(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Version int    `json:"version"`
			Notes   string `json:"notes"`
		}
		if err := decode(r, &in); err != nil {
			h.fail(w, r, err)
			return
		}
		a, id := actorFrom(r.Context()), chi.URLParam(r, "campaign")
		var c campaign.Campaign
		var err error
		if approve {
			c, err = h.campaigns.Approve(r.Context(), a, id, in.Version, in.Notes)
		} else {
			c, err = h.campaigns.Reject(r.Context(), a, id, in.Version, in.Notes)
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		ok(w, http.StatusOK, campaignOut(c))
	}
}
