package web

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"zombiezen.com/go/sqlite"

	"github.com/pi-crm/pi-crm/pkg/compose"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/events"
	"github.com/pi-crm/pi-crm/pkg/logkey"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/sms"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// emailSettingsData is the workspace's Email page.
type emailSettingsData struct {
	Config    mailer.Config
	Saved     bool // a provider is stored (else the planned kind, not set up)
	KindLabel string
	Kinds     []kindOption
	RequestID string
	// OAuth is a saved Google or Microsoft account: it signs in here.
	OAuth     bool
	Connected bool
	Pending   *mailer.Pending
	Redirect  string
}

type kindOption struct{ Value, Label string }

var kindOptions = []kindOption{{mailer.KindFile, mailer.Label(mailer.KindFile)}, {mailer.KindSMTP, mailer.Label(mailer.KindSMTP)},
	{mailer.KindMailgun, mailer.Label(mailer.KindMailgun)}, {mailer.KindGoogle, mailer.Label(mailer.KindGoogle)}, {mailer.KindMicrosoft, mailer.Label(mailer.KindMicrosoft)}}

func (s *Server) renderEmailSettings(w http.ResponseWriter, r *http.Request, status int, form, fieldErrs map[string]string) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	cfg, ok, err := s.Providers.Get(r.Context(), a, ws.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !ok {
		cfg.Kind = ws.Settings.EmailProvider
	}
	if form == nil || form["kind"] == "" {
		// The saved settings, with what the user typed elsewhere on the
		// page (the sign-in's pasted address) kept.
		typed := form
		st := cfg.Settings
		form = map[string]string{"kind": cfg.Kind, "from_name": cfg.FromName, "from_email": cfg.FromEmail, "host": st.Host, "tls": st.TLS,
			"username": st.Username, "auth": st.Auth, "domain": st.Domain, "region": st.Region, "base_url": st.BaseURL,
			"client_id": st.ClientID, "tenant": st.Tenant, "auth_base": st.AuthBase, "imap_host": st.IMAPHost, "imap_tls": st.IMAPTLS, "dkim_selector": st.DKIMSelector,
			"per_minute": strconv.Itoa(cfg.PerMinute), "daily_cap": strconv.Itoa(cfg.DailyCap)}
		if st.Port > 0 {
			form["port"] = strconv.Itoa(st.Port)
		}
		if st.IMAPPort > 0 {
			form["imap_port"] = strconv.Itoa(st.IMAPPort)
		}
		if st.Conns > 0 {
			form["conns"] = strconv.Itoa(st.Conns)
		}
		if form["from_name"] == "" {
			form["from_name"] = a.Name
		}
		for k, v := range typed {
			form[k] = v
		}
	}
	d := emailSettingsData{Config: cfg, Saved: ok, Kinds: kindOptions, RequestID: store.NewID(), KindLabel: mailer.Label(cfg.Kind), Redirect: mailer.GoogleRedirect}
	if ok && (cfg.Kind == mailer.KindGoogle || cfg.Kind == mailer.KindMicrosoft) {
		d.OAuth, d.Connected = true, s.Providers.Connected(cfg)
		pending, has, err := s.Providers.PendingIn(r.Context(), a, ws.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if has && pending.Kind == cfg.Kind {
			d.Pending = &pending
		}
	}
	p := s.pageFor(r, "Email · "+ws.Name, &page{Section: "email", Data: d, Form: form, Errors: fieldErrs})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, status, "email_settings", "", p)
}

func (s *Server) emailSettings(w http.ResponseWriter, r *http.Request) {
	s.renderEmailSettings(w, r, http.StatusOK, nil, nil)
}

func (s *Server) emailSettingsSave(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	// The secret is never put back in the form: a refused form asks for it again.
	form := formOf(r, "kind", "from_name", "from_email", "host", "port", "tls", "username", "auth", "domain", "region", "base_url", "per_minute", "daily_cap",
		"client_id", "tenant", "auth_base", "imap_host", "imap_port", "imap_tls", "conns", "dkim_selector")
	perMinute, err1 := strconv.Atoi(orZero(form["per_minute"]))
	dailyCap, err2 := strconv.Atoi(orZero(form["daily_cap"]))
	_, err3 := strconv.Atoi(orZero(strings.TrimSpace(form["imap_port"])))
	conns, err4 := strconv.Atoi(orZero(strings.TrimSpace(form["conns"])))
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		fe := map[string]string{}
		if err4 != nil {
			fe["conns"] = "Enter how many connections at once as a number, or leave it empty."
		}
		if err3 != nil {
			fe["imap_port"] = "Enter the IMAP port as a number (993 for TLS), or leave it empty."
		}
		if err1 != nil {
			fe["per_minute"] = "Enter a whole number (0: no limit)."
		}
		if err2 != nil {
			fe["daily_cap"] = "Enter a whole number (0: no cap)."
		}
		s.renderEmailSettings(w, r, http.StatusUnprocessableEntity, form, fe)
		return
	}
	ch := mailer.Change{Kind: form["kind"], FromName: form["from_name"], FromEmail: form["from_email"], Secret: r.PostFormValue("secret"), WebhookKey: r.PostFormValue("webhook_key"), DKIMKey: r.PostFormValue("dkim_key"),
		PerMinute: perMinute, DailyCap: dailyCap, Settings: mailer.Settings{Host: form["host"], Port: mailer.Port(form["port"]), TLS: form["tls"],
			Username: form["username"], Auth: form["auth"], Domain: form["domain"], Region: form["region"], BaseURL: form["base_url"],
			ClientID: form["client_id"], Tenant: form["tenant"], AuthBase: form["auth_base"],
			IMAPHost: form["imap_host"], IMAPPort: mailer.Port(form["imap_port"]), IMAPTLS: form["imap_tls"], Conns: conns, DKIMSelector: form["dkim_selector"]}}
	_, err := s.Providers.Set(r.Context(), a, ws.ID, ch)
	if fe := fieldErrors(err); fe != nil {
		s.renderEmailSettings(w, r, statusOfErr(err), form, fe)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Email settings saved.")
	seeOther(w, r, "/w/"+ws.ID+"/email")
}

// emailSignIn starts signing the workspace's Google or Microsoft account
// in; the Email page then walks the user through it.
func (s *Server) emailSignIn(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	if _, err := s.Providers.Begin(r.Context(), a, ws.ID); err != nil {
		if errs.KindOf(err) == errs.Invalid {
			s.flash(w, r, "Not started: "+errs.As(err).Message)
			seeOther(w, r, "/w/"+ws.ID+"/email#signin")
			return
		}
		s.fail(w, r, err)
		return
	}
	seeOther(w, r, "/w/"+ws.ID+"/email#signin")
}

// emailSignInGoogle takes the address the user's browser ended on.
func (s *Server) emailSignInGoogle(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	err := s.Providers.FinishGoogle(r.Context(), a, ws.ID, r.PostFormValue("pasted"))
	if fe := fieldErrors(err); fe != nil {
		s.renderEmailSettings(w, r, statusOfErr(err), map[string]string{"pasted": r.PostFormValue("pasted")}, fe)
		return
	}
	if errs.KindOf(err) == errs.Invalid {
		s.flash(w, r, errs.As(err).Message)
		seeOther(w, r, "/w/"+ws.ID+"/email#signin")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Signed in to Google: this workspace sends through Gmail, and replies come in every minute.")
	seeOther(w, r, "/w/"+ws.ID+"/email")
}

// emailSignInMicrosoft asks Microsoft once whether the code was entered:
// the page asks every few seconds while it shows the code.
func (s *Server) emailSignInMicrosoft(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	done, err := s.Providers.PollMicrosoft(r.Context(), a, ws.ID)
	htmx := r.Header.Get("HX-Request") == "true"
	switch {
	case err != nil && errs.KindOf(err) != errs.Invalid:
		s.fail(w, r, err)
	case err != nil:
		s.flash(w, r, errs.As(err).Message)
		seeOther(w, r, "/w/"+ws.ID+"/email#signin")
	case done:
		s.flash(w, r, "Signed in to Microsoft 365: this workspace sends through it, and replies come in every minute.")
		seeOther(w, r, "/w/"+ws.ID+"/email")
	case htmx:
		w.WriteHeader(http.StatusNoContent) // still waiting: the page asks again
	default:
		s.flash(w, r, "Not yet: enter the code at Microsoft's page, then check again.")
		seeOther(w, r, "/w/"+ws.ID+"/email#signin")
	}
}

// emailSignInCancel drops the sign-in in progress.
func (s *Server) emailSignInCancel(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	if err := s.Providers.Cancel(r.Context(), a, ws.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	seeOther(w, r, "/w/"+ws.ID+"/email")
}

func orZero(v string) string {
	if v == "" {
		return "0"
	}
	return v
}

// emailTest queues a test email to the user.
func (s *Server) emailTest(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	q, err := s.Compose.Test(r.Context(), a, ws.ID, r.PostFormValue("request_id"))
	if fe := fieldErrors(err); fe != nil {
		s.flash(w, r, "Not sent: "+firstOf(fe))
		seeOther(w, r, "/w/"+ws.ID+"/email")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "Test email to "+q.Message.To+" queued: its state is on the Sending page.")
	seeOther(w, r, "/w/"+ws.ID+"/outbox")
}

func firstOf(m map[string]string) string {
	for _, v := range m {
		return v
	}
	return ""
}

// outboxData is the Sending page.
type outboxData struct {
	Messages []outbox.Message
	State    string
	States   []outbox.State
	Config   mailer.Config
	Saved    bool
}

func (s *Server) outboxShow(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	state := outbox.State(r.URL.Query().Get("state"))
	switch state {
	case "", outbox.Queued, outbox.Claimed, outbox.Sent, outbox.Retrying, outbox.Failed, outbox.Unknown, outbox.Dropped:
	default:
		s.fail(w, r, errs.Fields{"state": "Choose a state."}.Err())
		return
	}
	msgs, err := s.Compose.List(r.Context(), a, ws.ID, state, 100)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cfg, ok, err := s.Providers.Get(r.Context(), a, ws.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := outboxData{Messages: msgs, State: string(state), Config: cfg, Saved: ok,
		States: []outbox.State{outbox.Unknown, outbox.Queued, outbox.Retrying, outbox.Sent, outbox.Failed, outbox.Dropped}}
	p := s.pageFor(r, "Sending · "+ws.Name, &page{Section: "outbox", Data: d})
	p.Flash = s.takeFlash(w, r)
	s.render(w, r, http.StatusOK, "outbox", "", p)
}

// outboxDecide resends or drops an unknown message.
func (s *Server) outboxDecide(resend bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ws, _ := workspaceFrom(r.Context())
		a, _ := actorFrom(r.Context())
		id := chi.URLParam(r, "msg")
		do, done := s.Compose.Drop, "Dropped: it will not be sent."
		if resend {
			do, done = s.Compose.Resend, "Queued again."
		}
		if err := do(r.Context(), a, ws.ID, id); err != nil {
			if errs.KindOf(err) == errs.Conflict {
				s.flash(w, r, errs.As(err).Message)
				seeOther(w, r, "/w/"+ws.ID+"/outbox")
				return
			}
			s.fail(w, r, err)
			return
		}
		s.flash(w, r, done)
		seeOther(w, r, "/w/"+ws.ID+"/outbox?state=unknown")
	}
}

// contactEmailData is the send form on a contact.
type contactEmailData struct {
	ContactID   string
	ContactName string
	To          string
	Templates   []emailtemplate.Template
	RequestID   string
	Config      mailer.Config
	Saved       bool
	// Preview is the message as it would go, after Preview.
	Preview *compose.Previewed
}

func (s *Server) renderContactEmail(w http.ResponseWriter, r *http.Request, status int, form, fieldErrs map[string]string) {
	s.renderContactEmailWith(w, r, status, form, fieldErrs, nil)
}

func (s *Server) renderContactEmailWith(w http.ResponseWriter, r *http.Request, status int, form, fieldErrs map[string]string, pv *compose.Previewed) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	c, err := s.Contacts.Get(r.Context(), a, ws.ID, chi.URLParam(r, "contact"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tpls, err := s.Templates.List(r.Context(), a, ws.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cfg, ok, err := s.Providers.Get(r.Context(), a, ws.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if form == nil {
		form = map[string]string{"template_id": r.URL.Query().Get("template"), "request_id": store.NewID()}
	}
	d := contactEmailData{ContactID: c.ID, ContactName: c.Name(), To: c.PrimaryEmail(), Templates: tpls, RequestID: form["request_id"], Config: cfg, Saved: ok, Preview: pv}
	s.render(w, r, status, "contact_email", "", s.pageFor(r, "Email "+c.Name(), &page{Section: "contacts", Data: d, Form: form, Errors: fieldErrs}))
}

func (s *Server) contactEmail(w http.ResponseWriter, r *http.Request) {
	s.renderContactEmail(w, r, http.StatusOK, nil, nil)
}

// contactEmailPreview shows the send form with the message as it would go
// to the contact, what was typed kept; nothing is queued.
func (s *Server) contactEmailPreview(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	form := formOf(r, "template_id", "subject", "body", "request_id", "transaction")
	pv, err := s.Compose.Preview(r.Context(), a, ws.ID, compose.Draft{ContactID: chi.URLParam(r, "contact"), TemplateID: form["template_id"],
		Subject: form["subject"], BodyHTML: form["body"]})
	if fe := fieldErrors(err); fe != nil {
		s.renderContactEmail(w, r, statusOfErr(err), form, fe)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderContactEmailWith(w, r, http.StatusOK, form, nil, &pv)
}

func (s *Server) contactEmailSend(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	form := formOf(r, "template_id", "subject", "body", "request_id", "transaction")
	id := chi.URLParam(r, "contact")
	q, err := s.Compose.Email(r.Context(), a, ws.ID, compose.Draft{RequestID: form["request_id"], ContactID: id, TemplateID: form["template_id"],
		Subject: form["subject"], BodyHTML: form["body"], Transaction: form["transaction"] != ""})
	if fe := fieldErrors(err); fe != nil {
		s.renderContactEmail(w, r, statusOfErr(err), form, fe)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	msg := "Email to " + q.Message.To + " queued; its state shows in the log."
	if q.Again {
		msg = "That email was already queued (the form was sent twice): nothing new was sent."
	}
	s.flash(w, r, msg)
	seeOther(w, r, "/w/"+ws.ID+"/contacts/"+id)
}

// mailgunHook takes an event Mailgun posts (a signed webhook) for {ws}.
func (s *Server) mailgunHook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 256<<10))
	if err != nil {
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	err = s.Providers.MailgunHook(r.Context(), chi.URLParam(r, "ws"), body, time.Now())
	switch errs.KindOf(err) {
	case errs.Internal:
		if err != nil {
			s.Log.Warn("mailgun webhook", logkey.Err, err)
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	case errs.NotFound:
		http.NotFound(w, r)
	case errs.Unauthorized:
		http.Error(w, "signature refused", http.StatusUnauthorized)
	default:
		// Mailgun stops retrying on 406.
		http.Error(w, "not an event", http.StatusNotAcceptable)
	}
}

// twilioHook takes what Twilio posts for the appliance's number: a text
// that came in (logged, STOP and START applied, as the poller does) or
// the status of one of ours. A request whose X-Twilio-Signature is not the
// auth token's over the address and its parameters is refused, as is a
// signed request seen before (a replay); each text and status is
// recorded once whichever path hears it first.
func (s *Server) twilioHook(w http.ResponseWriter, r *http.Request) {
	h := s.Twilio
	if h.AuthToken == "" {
		http.NotFound(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "cannot read the form", http.StatusBadRequest)
		return
	}
	full := strings.TrimSuffix(h.PublicURL, "/") + r.URL.RequestURI()
	if h.PublicURL == "" {
		full = siteBase(r) + r.URL.RequestURI()
	}
	sig := r.Header.Get("X-Twilio-Signature")
	if !sms.ValidSignature(h.AuthToken, full, r.PostForm, sig) {
		s.Log.Warn("twilio webhook: signature refused", "url", full)
		http.Error(w, "signature refused", http.StatusForbidden)
		return
	}
	f := r.PostForm
	if f.Get("AccountSid") != h.AccountSID {
		http.Error(w, "another account", http.StatusForbidden)
		return
	}
	replay := false
	err := s.DB.Write(r.Context(), func(conn *sqlite.Conn) error {
		seen, err := events.SeenToken(conn, "twilio:"+sig, time.Now())
		if err != nil || seen {
			replay = seen
			return err
		}
		sid := f.Get("MessageSid")
		if status := f.Get("MessageStatus"); status != "" && status != "received" {
			_, err = events.TextStatus(conn, sid, status, f.Get("ErrorCode"), "webhook", time.Now())
			return err
		}
		if sid == "" || f.Get("From") == "" {
			return nil
		}
		_, err = events.Inbound(conn, sid, f.Get("From"), f.Get("To"), f.Get("Body"), "webhook", time.Now())
		return err
	})
	switch {
	case err != nil:
		s.Log.Warn("twilio webhook", logkey.Err, err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
	case replay:
		http.Error(w, "already seen", http.StatusConflict)
	default:
		// An empty TwiML answer: no automatic reply.
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`)
	}
}

// contactTextData is the text form on a contact.
type contactTextData struct {
	ContactID   string
	ContactName string
	To          string
	From        string // the appliance's number; "" when texting is not set up
	RequestID   string
	Segments    int
	Unicode     bool
}

func (s *Server) renderContactText(w http.ResponseWriter, r *http.Request, status int, form, fieldErrs map[string]string) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	c, err := s.Contacts.Get(r.Context(), a, ws.ID, chi.URLParam(r, "contact"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	from, err := s.Compose.SMSFrom(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if form == nil {
		form = map[string]string{"request_id": store.NewID()}
	}
	d := contactTextData{ContactID: c.ID, ContactName: c.Name(), To: c.PrimaryPhone(), From: from, RequestID: form["request_id"]}
	if form["body"] != "" {
		d.Segments, d.Unicode = sms.Segments(form["body"])
	}
	s.render(w, r, status, "contact_text", "", s.pageFor(r, "Text "+c.Name(), &page{Section: "contacts", Data: d, Form: form, Errors: fieldErrs}))
}

// textsData is the bulk text form.
type textsData struct {
	Contacts []contact.Contact
	From     string
}

// renderTexts shows the bulk text form for the contacts the request names
// (id=..., from the contact list's selection); ids that are not the
// workspace's contacts are left out.
func (s *Server) renderTexts(w http.ResponseWriter, r *http.Request, status int, ids []string, form, fieldErrs map[string]string) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	var d textsData
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] || len(d.Contacts) >= compose.MaxTexts {
			continue
		}
		seen[id] = true
		c, err := s.Contacts.Get(r.Context(), a, ws.ID, id)
		if errs.KindOf(err) == errs.NotFound {
			continue
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d.Contacts = append(d.Contacts, c)
	}
	var err error
	if d.From, err = s.Compose.SMSFrom(r.Context()); err != nil {
		s.fail(w, r, err)
		return
	}
	if form == nil {
		form = map[string]string{"request_id": store.NewID()}
	}
	s.render(w, r, status, "texts_new", "", s.pageFor(r, "Text contacts", &page{Section: "contacts", Data: d, Form: form, Errors: fieldErrs}))
}

func (s *Server) textsNew(w http.ResponseWriter, r *http.Request) {
	ids := r.URL.Query()["id"]
	var fe map[string]string
	if len(ids) == 0 {
		fe = map[string]string{"contacts": "Select the contacts to text on the contact list (the boxes at the left), then With selected… → Send a text."}
	}
	s.renderTexts(w, r, http.StatusOK, ids, nil, fe)
}

// textsSend queues the bulk text and says who was left out.
func (s *Server) textsSend(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	form := formOf(r, "request_id", "body")
	ids := r.PostForm["id"]
	res, err := s.Compose.Texts(r.Context(), a, ws.ID, compose.TextsDraft{RequestID: form["request_id"], ContactIDs: ids, Body: form["body"]})
	if fe := fieldErrors(err); fe != nil {
		s.renderTexts(w, r, statusOfErr(err), ids, form, fe)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	msg := fmt.Sprintf("%s queued.", plural(res.Queued, "text", "texts"))
	if res.Again > 0 {
		msg += fmt.Sprintf(" %s had been queued already (the form was sent twice).", plural(res.Again, "text", "texts"))
	}
	if len(res.Skipped) > 0 {
		var why []string
		for _, k := range res.Skipped {
			if k.Name != "" {
				why = append(why, k.Why)
			}
		}
		msg += fmt.Sprintf(" Left out: %s", plural(len(res.Skipped), "contact", "contacts"))
		if len(why) > 0 {
			msg += " (" + strings.Join(why[:min(len(why), 5)], " ") + ")"
		}
		msg += "."
	}
	s.flash(w, r, msg)
	seeOther(w, r, "/w/"+ws.ID+"/contacts")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func (s *Server) contactText(w http.ResponseWriter, r *http.Request) {
	s.renderContactText(w, r, http.StatusOK, nil, nil)
}

func (s *Server) contactTextSend(w http.ResponseWriter, r *http.Request) {
	ws, _ := workspaceFrom(r.Context())
	a, _ := actorFrom(r.Context())
	form := formOf(r, "body", "request_id")
	id := chi.URLParam(r, "contact")
	q, err := s.Compose.Text(r.Context(), a, ws.ID, compose.TextDraft{RequestID: form["request_id"], ContactID: id, Body: form["body"]})
	if fe := fieldErrors(err); fe != nil {
		s.renderContactText(w, r, statusOfErr(err), form, fe)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	msg := fmt.Sprintf("Text to %s queued (%d %s); its state shows in the log.", q.Message.To, q.Segments, map[bool]string{true: "texts", false: "text"}[q.Segments > 1])
	if q.Again {
		msg = "That text was already queued (the form was sent twice): nothing new was sent."
	}
	s.flash(w, r, msg)
	seeOther(w, r, "/w/"+ws.ID+"/contacts/"+id)
}
