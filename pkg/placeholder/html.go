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
	c, probs := Compile(body, custom)
	return c.Fill(v), probs
}

// segment is a piece of a compiled body: literal markup, or a placeholder
// in text, or an attribute whose value holds placeholders.
type segment struct {
	lit   string // kind literal
	kind  int
	key   string // the attribute's name
	nodes []Node // the placeholder, or the attribute value's nodes
}

const (
	literal = iota
	inText
	inAttr
	inURL
)

// Compiled is an HTML body split, once, into literal markup and the
// places its placeholders stand, each knowing its context: filling it for
// a recipient is a concatenation, with no parsing.
type Compiled struct {
	segs   []segment
	litLen int // the literal segments' bytes: a floor for the filled size
}

// Len returns the size in bytes Fill(v) would return, without building
// it: the literal markup is counted once at compile time, only the
// placeholders' escaped values are made.
func (c *Compiled) Len(v Values) int {
	n := c.litLen
	for _, sg := range c.segs {
		switch sg.kind {
		case inText:
			n += len(html.EscapeString(Fill(sg.nodes, v, raw1)))
		case inAttr:
			n += len(sg.key) + 4 + len(html.EscapeString(Fill(sg.nodes, v, raw1)))
		case inURL:
			if val := Fill(sg.nodes, v, urlValue); safeURL(val) {
				n += len(sg.key) + 4 + len(html.EscapeString(val))
			}
		}
	}
	return n
}

// Compile tokenizes body and returns it ready to Fill, with the problems
// of its placeholders (see HTML). Scripts are dropped, comments too (the
// layout's conditional comments are its own), styles kept as they are.
func Compile(body string, custom map[string]bool) (*Compiled, []Problem) {
	c := &Compiled{}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			c.litLen += lit.Len()
			c.segs = append(c.segs, segment{lit: lit.String()})
			lit.Reset()
		}
	}
	add := func(sg segment) { flush(); c.segs = append(c.segs, sg) }
	var probs []Problem
	z := xhtml.NewTokenizer(strings.NewReader(body))
	offset := 0   // where the current token starts in body
	rawText := "" // inside <style> (kept as is) or <script> (dropped)
	for {
		tt := z.Next()
		raw := string(z.Raw())
		if tt == xhtml.ErrorToken {
			if z.Err() != io.EOF {
				lit.WriteString(html.EscapeString(raw))
			}
			break
		}
		tok := z.Token()
		switch tt {
		case xhtml.TextToken:
			if rawText == "style" {
				lit.WriteString(tok.Data)
				break
			}
			if rawText == "script" {
				break
			}
			nodes, ps := Parse(tok.Data, custom)
			probs = append(probs, shift(ps, body, offset)...)
			for _, n := range nodes {
				if n.Name == "" {
					lit.WriteString(html.EscapeString(n.Text))
					continue
				}
				add(segment{kind: inText, nodes: []Node{n}})
			}
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken:
			if tok.Data == "script" {
				rawText = "script"
				break
			}
			if tt == xhtml.StartTagToken && tok.Data == "style" {
				rawText = "style"
			}
			lit.WriteString("<" + tok.Data)
			for _, a := range tok.Attr {
				isURL := a.Key == "href" || a.Key == "src"
				val := a.Val
				if isURL {
					val = Unmangle(val)
				}
				nodes, ps := Parse(val, custom)
				probs = append(probs, shift(ps, body, offset)...)
				if !hasPlaceholder(nodes) {
					if !isURL || safeURL(val) {
						lit.WriteString(" " + a.Key + `="` + html.EscapeString(val) + `"`)
					}
					continue
				}
				kind := inAttr
				if isURL {
					kind = inURL
				}
				add(segment{kind: kind, key: a.Key, nodes: nodes})
			}
			if tt == xhtml.SelfClosingTagToken {
				lit.WriteString(" /")
			}
			lit.WriteString(">")
		case xhtml.EndTagToken:
			if tok.Data == rawText {
				rawText = ""
			}
			if tok.Data == "script" {
				break
			}
			lit.WriteString("</" + tok.Data + ">")
		case xhtml.CommentToken:
		case xhtml.DoctypeToken:
			lit.WriteString(raw)
		}
		offset += len(raw)
	}
	flush()
	return c, probs
}

func hasPlaceholder(nodes []Node) bool {
	for _, n := range nodes {
		if n.Name != "" {
			return true
		}
	}
	return false
}

// Fill renders c with v, each value escaped for where it stands.
func (c *Compiled) Fill(v Values) string {
	var out strings.Builder
	out.Grow(c.litLen)
	for _, sg := range c.segs {
		switch sg.kind {
		case literal:
			out.WriteString(sg.lit)
		case inText:
			out.WriteString(html.EscapeString(Fill(sg.nodes, v, raw1)))
		case inAttr:
			out.WriteString(" " + sg.key + `="` + html.EscapeString(Fill(sg.nodes, v, raw1)) + `"`)
		case inURL:
			val := Fill(sg.nodes, v, urlValue)
			if safeURL(val) {
				out.WriteString(" " + sg.key + `="` + html.EscapeString(val) + `"`)
			}
		}
	}
	return out.String()
}

// urlValue puts a value into a URL: a URL placeholder whole, anything
// else percent-encoded.
func urlValue(name, value string) string {
	if URLNames[name] {
		return value
	}
	return strings.ReplaceAll(url.QueryEscape(value), "+", "%20")
}

func raw1(_, value string) string { return value }

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
