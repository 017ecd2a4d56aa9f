package web

import (
	"html"
	"net/http"
	"slices"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/insight"
)

// templateFields are the form fields of a template.
var templateFields = []string{"name", "subject", "preheader", "body", "signature"}

func templateChange(form map[string]string) emailtemplate.Change {
	return emailtemplate.Change{Name: form["name"], Subject: form["subject"], Preheader: form["preheader"], BodyHTML: form["body"], Signature: form["signature"]}
}

func templateForm(t emailtemplate.Template) map[string]string {
	return map[string]string{"name": t.Name, "subject": t.Subject, "preheader": t.Preheader, "body": t.BodyHTML, "signature": t.Signature}
}

type templatesData struct {
	Templates []emailtemplate.Template
}

func (s *Server) templatesShow(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	list, err := s.Templates.List(r.Context(), a, ws.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.pageFor(r, "Email templates", &page{Section: "templates", Data: templatesData{Templates: list}})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, http.StatusOK, "templates", "", p)
}

// templateEditData is the editor page: a new template (ID empty) or a
// saved one, with the placeholders it may use.
type templateEditData struct {
	ID           string
	Placeholders []string
	Others       []otherWorkspace // where it can be copied
	Users        []userOption     // who it can be shared with
	SharedTo     []userOption     // who it is shared with
	// Insights, on a new template, are what the workspace's templates
	// taught: near-duplicates, bounces, the one that gets replies.
	Insights []insight.Insight
}

type otherWorkspace struct{ ID, Name string }

func (s *Server) renderTemplateEdit(w http.ResponseWriter, r *http.Request, status int, id string, form, fieldErrs map[string]string, msg string) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	defs, err := s.Contacts.Fields(r.Context(), a, ws.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := templateEditData{ID: id, Placeholders: emailtemplate.PlaceholderNames(defs)}
	title := "New template"
	if id != "" {
		title = "Edit template"
	}
	p := s.pageFor(r, title, &page{Section: "templates", Data: &d, Form: form, Errors: fieldErrs, Error: msg})
	for _, o := range p.Workspaces {
		if o.ID != ws.ID {
			d.Others = append(d.Others, otherWorkspace{ID: o.ID, Name: o.Name})
		}
	}
	if id == "" {
		if d.Insights, err = s.Insights.Open(r.Context(), a, ws.ID, 3, insight.KindTemplate, insight.KindSimilar); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if id != "" {
		users, err := s.Auth.Users(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		shared, err := s.Templates.SharedWith(r.Context(), a, ws.ID, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, u := range users {
			switch {
			case u.ID == a.UserID:
			case slices.Contains(shared, u.ID):
				d.SharedTo = append(d.SharedTo, userOption{ID: u.ID, Name: u.Name})
			default:
				d.Users = append(d.Users, userOption{ID: u.ID, Name: u.Name})
			}
		}
	}
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, status, "template_edit", "", p)
}

func (s *Server) templateNew(w http.ResponseWriter, r *http.Request) {
	s.renderTemplateEdit(w, r, http.StatusOK, "", map[string]string{"body": "<p>Hi {{first_name | \"there\"}},</p><p></p>", "signature": "<p>{{sender.name}}</p>"}, nil, "")
}

func (s *Server) templateCreate(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	form := formOf(r, templateFields...)
	t, err := s.Templates.Create(r.Context(), a, ws.ID, templateChange(form))
	if fe := fieldErrors(err); fe != nil {
		s.renderTemplateEdit(w, r, statusOfErr(err), "", form, fe, "The template was not saved: correct the highlighted fields.")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Template saved.")
	seeOther(w, r, "/w/"+ws.ID+"/templates/"+t.ID+afterSave(r))
}

// afterSave is where a save goes: the preview when "Save and preview" was
// pressed, else the editor.
func afterSave(r *http.Request) string {
	if r.PostFormValue("then") == "preview" {
		return "/preview"
	}
	return ""
}

func (s *Server) templateEdit(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	t, err := s.Templates.Get(r.Context(), a, ws.ID, chi.URLParam(r, "tpl"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderTemplateEdit(w, r, http.StatusOK, t.ID, templateForm(t), nil, "")
}

func (s *Server) templateUpdate(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	id := chi.URLParam(r, "tpl")
	form := formOf(r, templateFields...)
	_, err := s.Templates.Update(r.Context(), a, ws.ID, id, templateChange(form))
	if fe := fieldErrors(err); fe != nil {
		s.renderTemplateEdit(w, r, statusOfErr(err), id, form, fe, "The changes were not saved: correct the highlighted fields.")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Template saved.")
	seeOther(w, r, "/w/"+ws.ID+"/templates/"+id+afterSave(r))
}

func (s *Server) templateDelete(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	if r.PostFormValue("confirm") == "" {
		if _, err := s.Templates.Get(r.Context(), a, ws.ID, chi.URLParam(r, "tpl")); err != nil {
			s.fail(w, r, err)
			return
		}
		s.flash(w, r, "Not deleted: tick “I mean it” first.")
		seeOther(w, r, "/w/"+ws.ID+"/templates/"+chi.URLParam(r, "tpl"))
		return
	}
	if err := s.Templates.Delete(r.Context(), a, ws.ID, chi.URLParam(r, "tpl")); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Template deleted.")
	seeOther(w, r, "/w/"+ws.ID+"/templates")
}

func (s *Server) templateCopy(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	to := r.PostFormValue("to")
	if to == "" {
		to = ws.ID
	}
	t, err := s.Templates.Copy(r.Context(), a, ws.ID, chi.URLParam(r, "tpl"), to)
	if s.failedBack(w, r, err, "Not copied: ", "/w/"+ws.ID+"/templates/"+chi.URLParam(r, "tpl")) {
		return
	}
	s.flash(w, r, "Copied as “"+t.Name+"”.")
	seeOther(w, r, "/w/"+to+"/templates/"+t.ID)
}

type templatePreviewData struct {
	Preview  emailtemplate.Preview
	Search   string
	SizeKB   string
	ClipKB   int
	FrameURL string
	TextURL  string
}

func (s *Server) sender(r *http.Request) emailtemplate.Sender {
	a, _ := actorFrom(r.Context())
	return emailtemplate.Sender{Name: a.Name, Email: a.Email}
}

func (s *Server) templatePreview(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	id := chi.URLParam(r, "tpl")
	q := r.URL.Query()
	pv, err := s.Templates.Summary(r.Context(), a, ws.ID, id, q.Get("contact"), q.Get("q"), s.sender(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := templatePreviewData{Preview: pv, Search: q.Get("q"), SizeKB: strconv.FormatFloat(float64(pv.Email.Size())/1024, 'f', 1, 64), ClipKB: emailtemplate.ClipBytes >> 10,
		FrameURL: "/w/" + ws.ID + "/templates/" + id + "/preview/frame?contact=" + pv.Contact.ID,
		TextURL:  "/w/" + ws.ID + "/templates/" + id + "/preview/text?contact=" + pv.Contact.ID}
	p := s.pageFor(r, "Preview: "+pv.Template.Name, &page{Section: "templates", Data: d})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, http.StatusOK, "template_preview", "", p)
}

// previewFor renders the request's template for the contact its query
// names (the newest contact without one).
func (s *Server) previewFor(r *http.Request) (emailtemplate.Preview, error) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	return s.Templates.Preview(r.Context(), a, ws.ID, chi.URLParam(r, "tpl"), r.URL.Query().Get("contact"), "", s.sender(r))
}

// templatePreviewFrame serves the rendered message itself, for the
// preview's sandboxed iframe: with a policy of its own that lets its inline
// styles apply and loads nothing but the appliance's own images.
func (s *Server) templatePreviewFrame(w http.ResponseWriter, r *http.Request) {
	pv, err := s.previewFor(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeEmailFrame(w, pv.Email.HTML)
}

// templatePreviewText serves the message's plain-text part, which the
// preview page loads on its own once it is shown (a 30 KB newsletter's
// text would otherwise make every preview page that much larger). It loads
// on "load", not when the folded part is opened: a click before htmx had
// started would have missed the toggle and left it empty.
func (s *Server) templatePreviewText(w http.ResponseWriter, r *http.Request) {
	pv, err := s.previewFor(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// htmx swaps what comes back in as HTML: the text is escaped, so a
	// contact named <script> stays text.
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(html.EscapeString(pv.Email.Text)))
}

// writeEmailFrame sends a rendered message for a sandboxed iframe of our
// own pages, with a policy that lets its inline styles apply and loads
// nothing but the appliance's images.
func writeEmailFrame(w http.ResponseWriter, html string) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(html))
}

// emptyContact renders a template with every fallback.
var emptyContact = contact.Contact{}
