// Package richtext is the one allow-list for the rich text users write
// (notes now, email templates next): what HTML is kept before it is stored,
// and how such HTML reads as plain text for the search index and the log's
// one-line summaries.
package richtext

import (
	"html"
	"strings"

	"github.com/microcosm-cc/bluemonday"
)

// Policy sanitizes rich text. It is safe for concurrent use; build it once.
type Policy struct{ p *bluemonday.Policy }

// New returns the user-content policy: links, lists and emphasis; no
// scripts, styles or event handlers; links open safely.
func New() *Policy {
	p := bluemonday.UGCPolicy()
	p.RequireNoFollowOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	return &Policy{p: p}
}

// Clean returns s with everything outside the allow-list removed.
func (p *Policy) Clean(s string) string { return p.p.Sanitize(s) }

// Text is rich text as plain text: tags dropped (each leaves a space) and
// entities decoded, so "<p>Tom &amp; Jerry</p>" reads "Tom & Jerry".
func Text(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
			b.WriteByte(' ')
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return html.UnescapeString(b.String())
}

// EmailStyles are the inline style properties an email body may keep:
// email clients ignore style sheets, so layout needs a few, and none can
// load anything (no url(), no expression(): bluemonday checks each value).
var EmailStyles = []string{"color", "background-color", "font-size", "font-weight", "font-style", "font-family", "text-align",
	"text-decoration", "line-height", "padding", "padding-top", "padding-bottom", "padding-left", "padding-right", "margin",
	"margin-top", "margin-bottom", "border", "border-radius", "width", "max-width", "height", "display", "vertical-align"}

// NewEmail returns the policy for email bodies (templates, and the model's
// drafts): the note policy's text elements plus headings, images (http,
// https or an inline cid: part), the tables a button is made of, links that
// may hold a placeholder ({{unsubscribe_url}}), and EmailStyles inline.
// Scripts, event handlers, forms and javascript: or data: URLs never pass.
func NewEmail() *Policy {
	p := bluemonday.NewPolicy()
	p.AllowStandardURLs()
	p.AllowURLSchemes("http", "https", "mailto", "tel", "cid")
	p.AllowRelativeURLs(true) // "{{unsubscribe_url}}" before it is filled
	p.AllowElements("p", "br", "hr", "h1", "h2", "h3", "h4", "strong", "b", "em", "i", "u", "s", "span", "div",
		"ul", "ol", "li", "blockquote", "table", "thead", "tbody", "tr", "td", "th", "center")
	p.AllowAttrs("href", "title", "target").OnElements("a")
	p.AllowElements("a")
	p.AllowAttrs("src", "alt", "width", "height").OnElements("img")
	p.AllowElements("img")
	p.AllowAttrs("align", "width", "cellpadding", "cellspacing", "border", "role").OnElements("table", "td", "th")
	p.AllowAttrs("data-placeholder", "data-fallback").OnElements("span")
	p.AllowStyles(EmailStyles...).Globally()
	return &Policy{p: p}
}
