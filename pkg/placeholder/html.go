package placeholder

import (
	"html"
	"io"
	"net/url"
	"strings"

	xhtml "golang.org/x/net/html"
)

// Text fills the placeholders of plain text (a subject, the text part)
// with values as they are, and returns the problems of src.
func Text(src string, v Values, custom map[string]bool) (string, []Problem) {
	nodes, probs := Parse(src, custom)
	return Fill(nodes, v, func(_, value string) string { return value }), probs
}

// HTML fills the placeholders of an HTML body: in text, values are
// HTML-escaped; in an attribute, attribute-escaped; in href and src, a URL
// placeholder (unsubscribe_url) goes in whole and any other value is
// percent-encoded, and a URL that comes out with a scheme other than http,
// https, mailto, tel or cid is dropped. Markup the values hold never
// becomes markup. It returns the body and the problems of the
// placeholders, with positions counted in the body's source.
func HTML(body string, v Values, custom map[string]bool) (string, []Problem) {
	var out strings.Builder
	var probs []Problem
	z := xhtml.NewTokenizer(strings.NewReader(body))
	offset := 0   // where the current token starts in body
	rawText := "" // inside <style> (kept as is) or <script> (dropped)
	for {
		tt := z.Next()
		raw := string(z.Raw())
		if tt == xhtml.ErrorToken {
			if z.Err() != io.EOF {
				out.WriteString(html.EscapeString(raw))
			}
			break
		}
		tok := z.Token()
		switch tt {
		case xhtml.TextToken:
			if rawText == "style" {
				out.WriteString(tok.Data)
				break
			}
			if rawText == "script" {
				break
			}
			nodes, ps := Parse(tok.Data, custom)
			probs = append(probs, shift(ps, body, offset)...)
			for _, n := range nodes {
				if n.Name == "" {
					out.WriteString(html.EscapeString(n.Text))
					continue
				}
				out.WriteString(html.EscapeString(Fill([]Node{n}, v, raw1)))
			}
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken:
			if tok.Data == "script" {
				rawText = "script"
				break
			}
			if tt == xhtml.StartTagToken && tok.Data == "style" {
				rawText = "style"
			}
			out.WriteString("<" + tok.Data)
			for _, a := range tok.Attr {
				val, ps := attr(a, v, custom)
				probs = append(probs, shift(ps, body, offset)...)
				if a.Key == "href" || a.Key == "src" {
					if !safeURL(val) {
						continue
					}
				}
				out.WriteString(" " + a.Key + `="` + html.EscapeString(val) + `"`)
			}
			if tt == xhtml.SelfClosingTagToken {
				out.WriteString(" /")
			}
			out.WriteString(">")
		case xhtml.EndTagToken:
			if tok.Data == rawText {
				rawText = ""
			}
			if tok.Data == "script" {
				break
			}
			out.WriteString("</" + tok.Data + ">")
		case xhtml.CommentToken:
			// Comments are dropped: conditional comments are the layout's.
		case xhtml.DoctypeToken:
			out.WriteString(raw)
		}
		offset += len(raw)
	}
	return out.String(), probs
}

func raw1(_, value string) string { return value }

// attr fills one attribute's placeholders for its context.
func attr(a xhtml.Attribute, v Values, custom map[string]bool) (string, []Problem) {
	if a.Key != "href" && a.Key != "src" {
		nodes, probs := Parse(a.Val, custom)
		return Fill(nodes, v, raw1), probs
	}
	nodes, probs := Parse(Unmangle(a.Val), custom)
	return Fill(nodes, v, func(name, value string) string {
		if URLNames[name] {
			return value
		}
		return strings.ReplaceAll(url.QueryEscape(value), "+", "%20")
	}), probs
}

// safeURL reports whether u may stay in an href or src: relative, or
// http, https, mailto, tel or cid (an inline image).
func safeURL(u string) bool {
	u = strings.TrimSpace(u)
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	switch strings.ToLower(p.Scheme) {
	case "", "http", "https", "mailto", "tel", "cid":
		return !strings.HasPrefix(strings.ToLower(u), "//") || p.Host != ""
	}
	return false
}

// shift moves problems found in a token's text to their place in the
// whole body. Entities make a token's decoded text shorter than its
// source, so the column is that of the token's start plus the offset in
// the decoded text: close enough to find it.
func shift(ps []Problem, body string, offset int) []Problem {
	for i := range ps {
		ps[i].Pos = position(body, min(offset+ps[i].Pos.Offset, len(body)))
	}
	return ps
}

// Unmangle turns placeholders that a sanitizer or an editor percent-encoded
// inside a URL (%7B%7Bunsubscribe_url%7D%7D) back into {{unsubscribe_url}},
// leaving the rest of the URL as it is.
func Unmangle(u string) string {
	var b strings.Builder
	for {
		i := strings.Index(strings.ToUpper(u), "%7B%7B")
		if i < 0 {
			b.WriteString(u)
			return b.String()
		}
		j := strings.Index(strings.ToUpper(u[i:]), "%7D%7D")
		if j < 0 {
			b.WriteString(u)
			return b.String()
		}
		inner, err := url.PathUnescape(u[i+6 : i+j])
		b.WriteString(u[:i])
		if err != nil {
			b.WriteString(u[i : i+j+6])
		} else {
			b.WriteString("{{" + inner + "}}")
		}
		u = u[i+j+6:]
	}
}
