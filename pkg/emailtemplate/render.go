package emailtemplate

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"strings"

	"github.com/vanng822/go-premailer/premailer"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/placeholder"
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
}

// Size is the HTML part's size in bytes.
func (e Email) Size() int { return len(e.HTML) }

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
	var e Email
	var probs []placeholder.Problem
	add := func(part string, ps []placeholder.Problem) {
		for _, p := range ps {
			p.Source = part + " " + p.Source
			probs = append(probs, p)
		}
	}
	var ps []placeholder.Problem
	e.Subject, ps = placeholder.Text(t.Subject, v, custom)
	add("subject", ps)
	e.Preheader, ps = placeholder.Text(t.Preheader, v, custom)
	add("preheader", ps)
	body, ps := placeholder.HTML(t.BodyHTML, v, custom)
	add("body", ps)
	sig, ps := placeholder.HTML(t.Signature, v, custom)
	add("signature", ps)
	e.Problems = probs

	var doc bytes.Buffer
	err := layout.Execute(&doc, map[string]any{
		"Subject": e.Subject, "Preheader": e.Preheader,
		// Both were sanitized on the way in and filled with escaped values.
		"Body": template.HTML(body), "Signature": template.HTML(sig), //nolint:gosec // see above
		"Unsubscribe": v["unsubscribe_url"],
	})
	if err != nil {
		return e, fmt.Errorf("render template %q: layout: %w", t.Name, err)
	}
	pm, err := premailer.NewPremailerFromString(doc.String(), premailer.NewOptions(premailer.WithRemoveClasses(false), premailer.WithCssToAttributes(false)))
	if err != nil {
		return e, fmt.Errorf("render template %q: parse: %w", t.Name, err)
	}
	if e.HTML, err = pm.Transform(); err != nil {
		return e, fmt.Errorf("render template %q: inline CSS: %w", t.Name, err)
	}
	text, err := pm.TransformText(premailer.WithPrettyTables(false))
	if err != nil {
		return e, fmt.Errorf("render template %q: text part: %w", t.Name, err)
	}
	e.Text = tidyText(text, e.Preheader)
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
{{if .Unsubscribe}}<table role="presentation" width="600" class="column-footer" cellpadding="0" cellspacing="0" border="0"><tr><td class="footer"><a href="{{.Unsubscribe}}">Unsubscribe</a></td></tr></table>{{end}}
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
// or the newest contact, from sender.
func (s *Store) Preview(ctx context.Context, actor auth.Actor, wsID, id, contactID, search string, sender Sender) (Preview, error) {
	t, err := s.Get(ctx, actor, wsID, id)
	if err != nil {
		return Preview{}, err
	}
	return s.PreviewOf(ctx, actor, wsID, t, contactID, search, sender)
}

// PreviewOf renders t (saved or not) as Preview does.
func (s *Store) PreviewOf(ctx context.Context, actor auth.Actor, wsID string, t Template, contactID, search string, sender Sender) (Preview, error) {
	p := Preview{Template: t}
	if contactID == "" {
		page, err := s.contacts.List(ctx, actor, wsID, contact.Query{Search: search, Limit: 1})
		if err != nil {
			return p, fmt.Errorf("preview: choose a contact: %w", err)
		}
		if len(page.Rows) > 0 {
			contactID = page.Rows[0].ID
		}
	}
	if contactID != "" {
		c, err := s.contacts.Get(ctx, actor, wsID, contactID)
		if err != nil {
			return p, err
		}
		p.Contact = c
	}
	defs, err := s.contacts.Fields(ctx, actor, wsID)
	if err != nil {
		return p, fmt.Errorf("preview: %w", err)
	}
	custom := map[string]bool{}
	for _, d := range defs {
		custom[Key(d.Name)] = true
	}
	p.Email, err = Render(t, Values(p.Contact, defs, sender, PreviewUnsubscribe), custom)
	return p, err
}
