package emailtemplate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"sync"

	"github.com/vanng822/go-premailer/premailer"
	"zombiezen.com/go/sqlite"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/placeholder"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// ClipBytes is where Gmail clips a message ("[Message clipped] View
// entire message"): past it the preview warns, since the unsubscribe link
// and the signature at the bottom are what gets hidden.
const ClipBytes = 102 << 10

// Email is a template rendered for one recipient: what a provider sends.
type Email struct {
	Subject   string
	Preheader string
	HTML      string // the whole message, our layout around the body, CSS inlined
	Text      string // the plain-text part
	// Problems are the placeholders that did not resolve (unknown names),
	// with where they are; the preview flags them.
	Problems []placeholder.Problem
	// Layout is what HTML and Text were filled from, for a caller that
	// stores it once and the values for each recipient (Renderer.Fill).
	Layout Layout
	size   int // the HTML part's size, measured without making it (Measure)
}

// Size is the HTML part's size in bytes.
func (e Email) Size() int { return max(len(e.HTML), e.size) }

// Clipped reports whether Gmail would clip the message.
func (e Email) Clipped() bool { return e.Size() > ClipBytes }

// Sender is who a message comes from, for {{sender.name}} and
// {{sender.email}}.
type Sender struct{ Name, Email string }

// Values returns what the placeholders stand for in a message to c from
// sender: the contact's names, company, primary email, job title and the
// custom fields in defs by key (see Key); unsubscribeURL fills
// {{unsubscribe_url}}.
func Values(c contact.Contact, defs []contact.FieldDef, sender Sender, unsubscribeURL string) placeholder.Values {
	v := placeholder.Values{
		"first_name": c.FirstName, "last_name": c.LastName, "full_name": strings.TrimSpace(c.FirstName + " " + c.LastName),
		"company": c.Company, "nickname": c.Nickname, "job_title": c.JobTitle,
		"sender.name": sender.Name, "sender.email": sender.Email, "unsubscribe_url": unsubscribeURL,
	}
	if len(c.Emails) > 0 {
		v["email"] = c.Emails[0].Address
	}
	for _, d := range defs {
		if k := Key(d.Name); k != "" {
			v["custom."+k] = c.Custom[d.ID]
		}
	}
	return v
}

// Render fills t for one recipient and wraps the body in the email layout:
// the subject and preheader as text, the body and signature as HTML (values
// escaped for where they stand), the layout's CSS inlined into style
// attributes and a plain-text part made from the result. custom are the
// workspace's custom-field keys (CustomKeys). The template's own HTML was
// sanitized when it was stored and the values cannot add markup, so what
// comes out is only ever the layout plus the allow-listed body.
func Render(t Template, v placeholder.Values, custom map[string]bool) (Email, error) {
	return (&Renderer{}).Render(t, v, custom)
}

// Renderer renders templates, keeping the last few templates' skeletons:
// the layout around the body with its CSS inlined and the text part made
// (the costly part, premailer's), placeholders still unfilled and compiled
// to their places, so a preview or a send to the next contact is only the
// filling. A skeleton is keyed by the template's content, so an edit is a
// new one.
type Renderer struct {
	// Size is how many skeletons are kept (0: none).
	Size  int
	mu    sync.Mutex
	cache map[skeletonKey]*skeleton
	order []skeletonKey
}

// NewRenderer returns a renderer that keeps size skeletons.
func NewRenderer(size int) *Renderer { return &Renderer{Size: size} }

type skeleton struct {
	html     *placeholder.Compiled
	text     []placeholder.Node
	problems []placeholder.Problem
	layout   Layout // the sources html and text were compiled from
}

// Layout is a template's message with its placeholders unfilled: the
// layout around the body with the CSS inlined, and the text part. A
// campaign stores it once for all its messages and crm-sender fills each
// (Fill); ID is a digest of the rest.
type Layout struct {
	ID, HTML, Text string
	Custom         string // the custom-field keys the placeholders were read with, comma-separated
}

func newLayout(html, text, custom string) Layout {
	sum := sha256.Sum256([]byte(html + "\x00" + text + "\x00" + custom))
	return Layout{ID: hex.EncodeToString(sum[:16]), HTML: html, Text: text, Custom: custom}
}

// Fill makes a recipient's HTML and text parts from layout l and their
// values v: what Render made for them, which also returned the layout.
func (r *Renderer) Fill(l Layout, v placeholder.Values) (html, text string) {
	html, text, _ = r.FillStored(l.ID, v, func() (Layout, error) { return l, nil })
	return html, text
}

// FillStored is Fill of the layout stored as id (a digest, so what it
// names never changes), which load reads only when the renderer does not
// keep it compiled already, like a skeleton.
func (r *Renderer) FillStored(id string, v placeholder.Values, load func() (Layout, error)) (html, text string, err error) {
	key := skeletonKey{body: id, layout: true}
	r.mu.Lock()
	sk, ok := r.cache[key]
	r.mu.Unlock()
	if !ok {
		l, err := load()
		if err != nil {
			return "", "", err
		}
		custom := map[string]bool{}
		for k := range strings.SplitSeq(l.Custom, ",") {
			if k != "" {
				custom[k] = true
			}
		}
		sk = &skeleton{layout: l}
		sk.html, _ = placeholder.Compile(l.HTML, custom)
		sk.text, _ = placeholder.Parse(l.Text, custom)
		r.keep(key, sk)
	}
	return sk.html.Fill(v), placeholder.Fill(sk.text, v, func(_, value string) string { return value }), nil
}

// skeletonKey is everything a skeleton is made from. As a map key it is
// compared whole on a hit (a hash alone could confuse two templates), and
// hashing it is far cheaper than a cryptographic digest of a 30 KB body.
type skeletonKey struct {
	subject, preheader, body, signature string
	custom                              string // the custom field keys, sorted
	unsub                               bool
	layout                              bool // a stored layout's, by its id (body), which covers the rest
}

func keyOf(t Template, custom map[string]bool, unsub bool) skeletonKey {
	keys := make([]string, 0, len(custom))
	for k, ok := range custom {
		if ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return skeletonKey{subject: t.Subject, preheader: t.Preheader, body: t.BodyHTML, signature: t.Signature, custom: strings.Join(keys, ","), unsub: unsub}
}

func (r *Renderer) skeleton(t Template, custom map[string]bool, unsub bool) (*skeleton, error) {
	key := keyOf(t, custom, unsub)
	if r.Size > 0 {
		r.mu.Lock()
		sk, ok := r.cache[key]
		r.mu.Unlock()
		if ok {
			return sk, nil
		}
	}
	sk, err := build(t, custom, unsub)
	if err != nil {
		return sk, err
	}
	sk.layout = newLayout(sk.layout.HTML, sk.layout.Text, key.custom)
	r.keep(key, sk)
	return sk, nil
}

// keep caches sk under key, the oldest going when there are Size.
func (r *Renderer) keep(key skeletonKey, sk *skeleton) {
	if r.Size <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cache == nil {
		r.cache = map[skeletonKey]*skeleton{}
	}
	if _, ok := r.cache[key]; !ok {
		r.cache[key] = sk
		r.order = append(r.order, key)
		for len(r.order) > r.Size {
			delete(r.cache, r.order[0])
			r.order = r.order[1:]
		}
	}
}

// build lays t out with its placeholders unfilled, inlines the CSS, makes
// the text part and compiles both for filling.
func build(t Template, custom map[string]bool, unsub bool) (*skeleton, error) {
	sk := &skeleton{}
	add := func(part string, ps []placeholder.Problem) {
		for _, p := range ps {
			p.Source = part + " " + p.Source
			sk.problems = append(sk.problems, p)
		}
	}
	_, ps := placeholder.Parse(t.Subject, custom)
	add("subject", ps)
	_, ps = placeholder.Parse(t.Preheader, custom)
	add("preheader", ps)
	_, ps = placeholder.Compile(t.BodyHTML, custom)
	add("body", ps)
	_, ps = placeholder.Compile(t.Signature, custom)
	add("signature", ps)

	var doc bytes.Buffer
	data := map[string]any{
		"Subject": t.Subject, "Preheader": t.Preheader,
		// Both were sanitized on the way in; their placeholders are text
		// and are filled, escaped, after the layout is made.
		"Body": template.HTML(t.BodyHTML), "Signature": template.HTML(t.Signature), //nolint:gosec // see above
	}
	if unsub {
		data["Unsubscribe"] = template.HTML(`<a href="{{unsubscribe_url}}">Unsubscribe</a>`)
	}
	if err := layout.Execute(&doc, data); err != nil {
		return nil, fmt.Errorf("render template %q: layout: %w", t.Name, err)
	}
	pm, err := premailer.NewPremailerFromString(doc.String(), premailer.NewOptions(premailer.WithRemoveClasses(false), premailer.WithCssToAttributes(false)))
	if err != nil {
		return nil, fmt.Errorf("render template %q: parse: %w", t.Name, err)
	}
	inlined, err := pm.Transform()
	if err != nil {
		return nil, fmt.Errorf("render template %q: inline CSS: %w", t.Name, err)
	}
	text, err := pm.TransformText(premailer.WithPrettyTables(false))
	if err != nil {
		return nil, fmt.Errorf("render template %q: text part: %w", t.Name, err)
	}
	sk.layout.HTML, sk.layout.Text = inlined, tidyText(text, t.Preheader)
	sk.html, _ = placeholder.Compile(sk.layout.HTML, custom)
	sk.text, _ = placeholder.Parse(sk.layout.Text, custom)
	return sk, nil
}

// Render fills t for one recipient (see the package function Render).
func (r *Renderer) Render(t Template, v placeholder.Values, custom map[string]bool) (Email, error) {
	e, sk, err := r.render(t, v, custom)
	if err == nil {
		e.HTML = sk.html.Fill(v)
	}
	return e, err
}

// RenderLayout is Render without the HTML part, for a caller that stores
// the layout and fills it later (a campaign's messages, Fill).
func (r *Renderer) RenderLayout(t Template, v placeholder.Values, custom map[string]bool) (Email, error) {
	e, _, err := r.render(t, v, custom)
	return e, err
}

func (r *Renderer) render(t Template, v placeholder.Values, custom map[string]bool) (Email, *skeleton, error) {
	sk, err := r.skeleton(t, custom, v["unsubscribe_url"] != "")
	if err != nil {
		return Email{}, nil, err
	}
	e := Email{Problems: sk.problems, Layout: sk.layout}
	e.Subject, _ = placeholder.Text(t.Subject, v, custom)
	e.Preheader, _ = placeholder.Text(t.Preheader, v, custom)
	e.Text = placeholder.Fill(sk.text, v, func(_, value string) string { return value })
	return e, sk, nil
}

// Measure is Render without the parts: the subject, preheader, problems
// and the HTML part's size, which is what a preview page shows (its frame
// and text part are fetched on their own).
func (r *Renderer) Measure(t Template, v placeholder.Values, custom map[string]bool) (Email, error) {
	sk, err := r.skeleton(t, custom, v["unsubscribe_url"] != "")
	if err != nil {
		return Email{}, err
	}
	e := Email{Problems: sk.problems, size: sk.html.Len(v)}
	e.Subject, _ = placeholder.Text(t.Subject, v, custom)
	e.Preheader, _ = placeholder.Text(t.Preheader, v, custom)
	return e, nil
}

// tidyText drops the preheader (hidden in the HTML, it would open the text
// part) and runs of blank lines the layout's tables leave.
func tidyText(text, preheader string) string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	if preheader != "" {
		text = strings.Replace(text, preheader, "", 1)
	}
	var out []string
	blank := 0
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, " \t\u00a0")
		if strings.TrimSpace(line) == "" {
			blank++
			if blank > 1 || len(out) == 0 {
				continue
			}
			line = ""
		} else {
			blank = 0
		}
		out = append(out, line)
	}
	return strings.TrimSpace(strings.Join(out, "\n")) + "\n"
}

// layout is the outer email every template goes out in: one centred
// 600 px column of tables (Outlook lays out nothing else), fluid below
// 600 px, a hidden preheader, the body, the signature and the unsubscribe
// link. Its classes are inlined by premailer; the media query stays in the
// head for clients that read it.
var layout = template.Must(template.New("email").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="x-apple-disable-message-reformatting"><title>{{.Subject}}</title>
<style>
body { margin: 0; padding: 0; background-color: #f1f5f9; }
.outer { width: 100%; background-color: #f1f5f9; }
.column { width: 600px; max-width: 600px; background-color: #ffffff; border-radius: 6px; }
.content { padding: 24px; font-family: Arial, Helvetica, sans-serif; font-size: 16px; line-height: 1.5; color: #0f172a; }
.signature { padding: 0 24px 24px 24px; font-family: Arial, Helvetica, sans-serif; font-size: 14px; line-height: 1.4; color: #334155; }
.footer { padding: 16px 24px; font-family: Arial, Helvetica, sans-serif; font-size: 12px; color: #64748b; text-align: center; }
.footer a { color: #64748b; }
.content img { max-width: 100%; height: auto; }
.content a { color: #4338ca; }
.preheader { display: none; max-height: 0; overflow: hidden; opacity: 0; color: transparent; }
@media only screen and (max-width: 620px) { .column { width: 100% !important; border-radius: 0 !important; } .content { padding: 16px !important; } }
</style></head>
<body>
<div class="preheader">{{.Preheader}}</div>
<table role="presentation" class="outer" width="100%" cellpadding="0" cellspacing="0" border="0"><tr><td align="center" style="padding: 16px 0;">
<table role="presentation" class="column" width="600" cellpadding="0" cellspacing="0" border="0">
<tr><td class="content">{{.Body}}</td></tr>
{{if .Signature}}<tr><td class="signature">{{.Signature}}</td></tr>{{end}}
</table>
{{with .Unsubscribe}}<table role="presentation" width="600" class="column-footer" cellpadding="0" cellspacing="0" border="0"><tr><td class="footer">{{.}}</td></tr></table>{{end}}
</td></tr></table>
</body></html>
`))

// Preview is a template rendered for one of the workspace's contacts.
type Preview struct {
	Template Template
	// Contact is who it was rendered for; zero when the workspace has
	// no contact yet (the fallbacks show).
	Contact contact.Contact
	Email   Email
}

// PreviewUnsubscribe fills {{unsubscribe_url}} in previews: a link that
// goes nowhere.
const PreviewUnsubscribe = "#unsubscribe"

// Preview renders template id of the actor's workspace wsID for contact
// contactID, or when that is empty for the first contact matching search,
// or the newest contact, from sender. The template, the workspace's
// custom fields and the contact come from one read (a search, when there
// is one, from a second).
func (s *Store) Preview(ctx context.Context, actor auth.Actor, wsID, id, contactID, search string, sender Sender) (Preview, error) {
	return s.preview(ctx, actor, wsID, id, contactID, search, sender, s.render.Render)
}

// Summary is Preview without the message's parts: the subject,
// preheader, problems and size, for the preview page, whose frame and text
// part are fetched on their own.
func (s *Store) Summary(ctx context.Context, actor auth.Actor, wsID, id, contactID, search string, sender Sender) (Preview, error) {
	return s.preview(ctx, actor, wsID, id, contactID, search, sender, s.render.Measure)
}

// fillFunc is Render or Measure.
type fillFunc func(Template, placeholder.Values, map[string]bool) (Email, error)

func (s *Store) preview(ctx context.Context, actor auth.Actor, wsID, id, contactID, search string, sender Sender, fill fillFunc) (Preview, error) {
	var p Preview
	var defs []contact.FieldDef
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		var err error
		if p.Template, err = get(conn, wsID, id); err != nil {
			return err
		}
		if defs, err = contact.FieldsIn(conn, wsID); err != nil {
			return err
		}
		if contactID == "" && search == "" {
			if contactID, err = contact.NewestIn(conn, wsID); err != nil {
				return err
			}
		}
		if contactID != "" {
			p.Contact, err = contact.LoadIn(conn, wsID, contactID)
		}
		return err
	})
	if err != nil {
		return Preview{}, err
	}
	if contactID == "" {
		if p.Contact, err = s.firstMatch(ctx, actor, wsID, search); err != nil {
			return p, err
		}
	}
	p.Email, err = fill(p.Template, Values(p.Contact, defs, sender, PreviewUnsubscribe), KeysOf(defs))
	return p, err
}

// PreviewOf renders t (saved or not) as Preview does.
func (s *Store) PreviewOf(ctx context.Context, actor auth.Actor, wsID string, t Template, contactID, search string, sender Sender) (Preview, error) {
	defs, err := s.contacts.Fields(ctx, actor, wsID)
	if err != nil {
		return Preview{}, fmt.Errorf("preview: %w", err)
	}
	p := Preview{Template: t}
	if contactID == "" {
		p.Contact, err = s.firstMatch(ctx, actor, wsID, search)
	} else {
		p.Contact, err = s.contacts.Get(ctx, actor, wsID, contactID)
	}
	if err != nil {
		return p, err
	}
	p.Email, err = s.render.Render(t, Values(p.Contact, defs, sender, PreviewUnsubscribe), KeysOf(defs))
	return p, err
}

// firstMatch returns the first contact search finds (the newest with an
// empty search), or none.
func (s *Store) firstMatch(ctx context.Context, actor auth.Actor, wsID, search string) (contact.Contact, error) {
	page, err := s.contacts.List(ctx, actor, wsID, contact.Query{Search: search, Limit: 1})
	if err != nil {
		return contact.Contact{}, fmt.Errorf("preview: choose a contact: %w", err)
	}
	if len(page.Rows) == 0 {
		return contact.Contact{}, nil
	}
	return s.contacts.Get(ctx, actor, wsID, page.Rows[0].ID)
}
