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
