package web

import (
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/ai"
	"github.com/pi-crm/pi-crm/pkg/aidraft"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/list"
)

// Tones are the wizard's tone choices.
var Tones = []string{"Friendly", "Professional", "Warm and personal", "Short and direct", "Celebratory", "Urgent but calm"}

// quickChips add common asks to the prompt box with one tap.
var quickChips = []string{"Keep it under 120 words.", "Add a clear call to action button.", "Use {{first_name}} in the greeting.",
	"Mention I am happy to answer questions by phone.", "End with a P.S. line.", "Write it for reading on a phone."}

// realEstateStarters are the sidebar's prompts in a real-estate workspace.
var realEstateStarters = []string{
	"Invite my past clients to an open house this weekend, with the address, time and a reason to stop by.",
	"A just-listed announcement for a 3-bedroom home, with the highlights and a link to the photos.",
	"A just-sold note to neighbours: what the home sold for is private, but the market is moving, and a free valuation offer.",
	"A monthly market update for my sphere: prices, days on market, and what it means for them.",
	"A home-anniversary note to a client who bought a year ago, with a small maintenance tip.",
	"A first-time buyer guide email: the steps, what to prepare, and an offer to meet.",
	"Ask happy past clients for a review or a referral, kindly and briefly.",
}

type aiWizardData struct {
	Model      aidraft.Model
	Configured bool
	Tones      []string
	Chips      []string
	Starters   []string
	Lists      []list.List
	Contact    string // the name of the contact it is written to, if any
}

func (s *Server) renderAIWizard(w http.ResponseWriter, r *http.Request, status int, form, fieldErrs map[string]string, msg string) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	m, ok, err := s.Drafts.Model(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := aiWizardData{Model: m, Configured: ok, Tones: Tones, Chips: quickChips}
	if ws.Settings.RealEstate {
		d.Starters = realEstateStarters
	}
	if d.Lists, err = s.stagesAndTags(r, a, ws.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	if form == nil {
		form = map[string]string{"tone": Tones[0], "contact_id": r.URL.Query().Get("contact")}
	}
	if id := form["contact_id"]; id != "" {
		c, err := s.Contacts.Get(r.Context(), a, ws.ID, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d.Contact = c.Name()
	}
	p := s.pageFor(r, "Generate a template with AI", &page{Section: "templates", Data: d, Form: form, Errors: fieldErrs, Error: msg})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, status, "template_ai", "", p)
}

func (s *Server) aiWizard(w http.ResponseWriter, r *http.Request) {
	s.renderAIWizard(w, r, http.StatusOK, nil, nil, "")
}

// stagesAndTags returns the workspace's stages, then its tags: the lists
// a draft can be written for.
func (s *Server) stagesAndTags(r *http.Request, a auth.Actor, wsID string) ([]list.List, error) {
	var all []list.List
	for _, k := range []list.Kind{list.Stage, list.Tag} {
		ls, err := s.Lists.All(r.Context(), a, wsID, k)
		if err != nil {
			return nil, err
		}
		all = append(all, ls...)
	}
	return all, nil
}

// brief builds the model's brief from the wizard's form and the context
// the appliance adds: the business line, the list, the user, and the
// placeholders the workspace has.
func (s *Server) brief(r *http.Request, form map[string]string) (ai.Brief, error) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	b := ai.Brief{Goal: form["goal"], Audience: form["audience"], Tone: form["tone"], MustHaves: form["must_haves"], Prompt: form["prompt"],
		Workspace: ws.Name, RealEstate: ws.Settings.RealEstate, Sender: a.Name}
	if id := form["list_id"]; id != "" {
		all, err := s.stagesAndTags(r, a, ws.ID)
		if err != nil {
			return b, err
		}
		if i := slices.IndexFunc(all, func(l list.List) bool { return l.ID == id }); i >= 0 {
			b.List = all[i].Name
		}
		if b.List == "" {
			return b, errs.Fields{"list_id": "Choose a list from the menu."}.Err()
		}
	}
	defs, err := s.Contacts.Fields(r.Context(), a, ws.ID)
	if err != nil {
		return b, err
	}
	b.Placeholders = emailtemplate.PlaceholderNames(defs)
	return b, nil
}

var wizardFields = []string{"goal", "audience", "tone", "must_haves", "prompt", "list_id", "contact_id"}

func (s *Server) aiAsk(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	form := formOf(r, wizardFields...)
	b, err := s.brief(r, form)
	var req aidraft.Request
	if err == nil && form["contact_id"] != "" {
		// Tied to a contact: the call shows in their AI Interactions.
		var c contact.Contact
		if c, err = s.Contacts.Get(r.Context(), a, ws.ID, form["contact_id"]); err == nil {
			b.Recipient = strings.TrimSpace(c.Name() + " " + map[bool]string{true: "(" + c.Company + ")"}[c.Company != ""])
		}
	}
	if err == nil {
		req, err = s.Drafts.Ask(r.Context(), a, ws.ID, form["contact_id"], "", b)
	}
	if fe := fieldErrors(err); fe != nil {
		s.renderAIWizard(w, r, statusOfErr(err), form, fe, "Nothing was sent to the model: correct the highlighted fields.")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	seeOther(w, r, "/w/"+ws.ID+"/templates/ai/"+req.ID)
}

type aiRequestData struct {
	Request    aidraft.Request
	Preview    *emailtemplate.Email
	Configured bool
	Comment    string
	Errors     map[string]string
}

func (s *Server) loadAIRequest(r *http.Request) (aiRequestData, error) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	req, err := s.Drafts.Get(r.Context(), a, ws.ID, chi.URLParam(r, "req"))
	if err != nil {
		return aiRequestData{}, err
	}
	_, ok, err := s.Drafts.Model(r.Context())
	if err != nil {
		return aiRequestData{}, err
	}
	d := aiRequestData{Request: req, Configured: ok}
	if req.Draft != nil {
		t := emailtemplate.Template{Name: "draft", Subject: req.Draft.Subject, Preheader: req.Draft.Preheader, BodyHTML: req.Draft.Body}
		pv, err := s.Templates.PreviewOf(r.Context(), a, ws.ID, t, "", "", s.sender(r))
		if err != nil {
			return d, err
		}
		d.Preview = &pv.Email
	}
	return d, nil
}

// aiRequest shows a request: its progress while it runs (the status
// fragment polls itself), then the draft with "Open in the editor" and a
// revision box.
func (s *Server) aiRequest(w http.ResponseWriter, r *http.Request) {
	d, err := s.loadAIRequest(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	block := ""
	if r.Header.Get("HX-Request") == "true" && r.URL.Query().Get("fragment") == "status" {
		block = "ai-status"
	}
	s.render(w, r, http.StatusOK, "template_ai_request", block, s.pageFor(r, "AI draft", &page{Section: "templates", Data: &d}))
}

func (s *Server) aiRevise(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	d, err := s.loadAIRequest(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	b := d.Request.Brief
	b.Previous, b.Comment = d.Request.Draft, r.PostFormValue("comment")
	if b.Previous == nil {
		b.Previous = &ai.Draft{}
	}
	req, err := s.Drafts.Ask(r.Context(), a, ws.ID, d.Request.ContactID, d.Request.ID, b)
	if fe := fieldErrors(err); fe != nil {
		d.Comment, d.Errors = r.PostFormValue("comment"), fe
		s.render(w, r, statusOfErr(err), "template_ai_request", "", s.pageFor(r, "AI draft", &page{Section: "templates", Data: &d}))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	seeOther(w, r, "/w/"+ws.ID+"/templates/ai/"+req.ID)
}

// aiRetry asks again with the same brief (after a failure).
func (s *Server) aiRetry(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	d, err := s.loadAIRequest(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	req, err := s.Drafts.Ask(r.Context(), a, ws.ID, d.Request.ContactID, d.Request.ParentID, d.Request.Brief)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	seeOther(w, r, "/w/"+ws.ID+"/templates/ai/"+req.ID)
}

// aiUse opens the draft in the editor as a new, unsaved template.
func (s *Server) aiUse(w http.ResponseWriter, r *http.Request) {
	d, err := s.loadAIRequest(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Request.Draft == nil {
		s.fail(w, r, errs.New(errs.Conflict, "The draft is not ready yet."))
		return
	}
	dr := d.Request.Draft
	form := map[string]string{"name": dr.Subject, "subject": dr.Subject, "preheader": dr.Preheader, "body": dr.Body, "signature": "<p>{{sender.name}}</p>"}
	s.renderTemplateEdit(w, r, http.StatusOK, "", form, nil, "")
}
