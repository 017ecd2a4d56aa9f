// Package placeholder reads and fills the placeholders of templates:
// {{first_name}}, {{custom.loan_amount}}, {{first_name | "there"}}. They are
// data, never code: a small parser, a whitelist of names, values escaped for
// where they land (text, an attribute, a URL), and unknown names reported
// with their position. Go's template packages are deliberately not used on
// user- or model-written text: they are Turing-complete.
package placeholder

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Names every template may use besides custom.<field>.
var Names = []string{"first_name", "last_name", "full_name", "company", "email", "nickname", "job_title",
	"sender.name", "sender.email", "unsubscribe_url"}

// URLNames hold a URL themselves: inside href they go in whole, not escaped
// as part of one.
var URLNames = map[string]bool{"unsubscribe_url": true}

// MaxFallback bounds a fallback's length, in bytes.
const MaxFallback = 200

// Node is a piece of a parsed text: literal text, or a placeholder.
type Node struct {
	Text        string // literal text, when Name is empty
	Name        string // the placeholder's name, e.g. "first_name", "custom.loan_amount"
	Fallback    string // what stands in for an empty value
	HasFallback bool
	Pos         Pos // where the placeholder starts
}

// Pos is a place in a text: 1-based line and column (in characters), and
// the byte offset.
type Pos struct {
	Line, Col, Offset int
}

func (p Pos) String() string { return fmt.Sprintf("line %d, column %d", p.Line, p.Col) }

// Problem is a placeholder that cannot be filled: a name not on the list, or
// one that does not parse.
type Problem struct {
	Pos     Pos
	Source  string // the placeholder as written
	Message string
}

func (p Problem) Error() string { return fmt.Sprintf("%s: %s: %s", p.Pos, p.Source, p.Message) }

// Known reports whether name may be used: one of Names, or custom.<key>
// with key in custom.
func Known(name string, custom map[string]bool) bool {
	if k, ok := strings.CutPrefix(name, "custom."); ok {
		return custom[k]
	}
	for _, n := range Names {
		if n == name {
			return true
		}
	}
	return false
}

// Parse splits src into text and placeholders. A "{{" that does not open a
// well-formed placeholder is a problem (with its position) and stays as
// text, so nothing the user typed is lost; so is a name not Known.
func Parse(src string, custom map[string]bool) ([]Node, []Problem) {
	var nodes []Node
	var probs []Problem
	text := strings.Builder{}
	flush := func() {
		if text.Len() > 0 {
			nodes = append(nodes, Node{Text: text.String()})
			text.Reset()
		}
	}
	i := 0
	for i < len(src) {
		j := strings.Index(src[i:], "{{")
		if j < 0 {
			text.WriteString(src[i:])
			break
		}
		text.WriteString(src[i : i+j])
		start := i + j
		n, end, msg := parseOne(src, start)
		if msg != "" {
			probs = append(probs, Problem{Pos: position(src, start), Source: clipSource(src[start:end]), Message: msg})
			text.WriteString(src[start:end])
			i = end
			continue
		}
		n.Pos = position(src, start)
		if !Known(n.Name, custom) {
			probs = append(probs, Problem{Pos: n.Pos, Source: src[start:end], Message: unknownMessage(n.Name)})
		}
		flush()
		nodes = append(nodes, n)
		i = end
	}
	flush()
	return nodes, probs
}

func unknownMessage(name string) string {
	if k, ok := strings.CutPrefix(name, "custom."); ok {
		return fmt.Sprintf("this workspace has no custom field %q", k)
	}
	if near := nearest(name); near != "" {
		return fmt.Sprintf("unknown placeholder; did you mean {{%s}}?", near)
	}
	return "unknown placeholder; use one of " + strings.Join(Names, ", ") + " or custom.<field>"
}

// nearest returns the name in Names within two edits of name, if any.
func nearest(name string) string {
	best, bestD := "", 3
	for _, n := range Names {
		if d := distance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// distance is the Levenshtein distance of a and b, in bytes (names are
// ASCII).
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// parseOne reads the placeholder that starts at src[start] ("{{"). It
// returns the node and where it ends, or a message and how far the bad
// text goes (to its "}}", or just the "{{" when there is none).
func parseOne(src string, start int) (Node, int, string) {
	p := start + 2
	skip := func() {
		for p < len(src) && (src[p] == ' ' || src[p] == '\t') {
			p++
		}
	}
	bad := func(msg string) (Node, int, string) {
		if k := strings.Index(src[start+2:], "}}"); k >= 0 && !strings.Contains(src[start+2:start+2+k], "{{") {
			return Node{}, start + 2 + k + 2, msg
		}
		return Node{}, start + 2, msg
	}
	skip()
	nameStart := p
	for p < len(src) && nameChar(src[p]) {
		p++
	}
	name := src[nameStart:p]
	if name == "" {
		return bad("a placeholder needs a name, such as {{first_name}}")
	}
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
		return bad("a name is words joined by dots, such as custom.loan_amount")
	}
	n := Node{Name: name}
	skip()
	if p < len(src) && src[p] == '|' {
		p++
		skip()
		if p >= len(src) || src[p] != '"' {
			return bad(`a fallback is text in double quotes, such as {{first_name | "there"}}`)
		}
		p++
		var fb strings.Builder
		closed := false
		for p < len(src) {
			c := src[p]
			if c == '\\' && p+1 < len(src) && (src[p+1] == '"' || src[p+1] == '\\') {
				fb.WriteByte(src[p+1])
				p += 2
				continue
			}
			if c == '"' {
				closed = true
				p++
				break
			}
			if c == '\n' {
				break
			}
			fb.WriteByte(c)
			p++
		}
		if !closed {
			return bad("the fallback's closing quote is missing")
		}
		if fb.Len() > MaxFallback {
			return bad(fmt.Sprintf("a fallback is at most %d characters", MaxFallback))
		}
		n.Fallback, n.HasFallback = fb.String(), true
		skip()
	}
	if !strings.HasPrefix(src[p:], "}}") {
		return bad("the placeholder is not closed with }}")
	}
	return n, p + 2, ""
}

func nameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.'
}

func position(src string, off int) Pos {
	line := 1 + strings.Count(src[:off], "\n")
	lineStart := strings.LastIndexByte(src[:off], '\n') + 1
	return Pos{Line: line, Col: utf8.RuneCountInString(src[lineStart:off]) + 1, Offset: off}
}

func clipSource(s string) string {
	if len(s) > 40 {
		s = s[:40]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		return s + "…"
	}
	return s
}

// Values are what the placeholders of one message stand for.
type Values map[string]string

// Fill renders nodes with values, each value passed through escape (the
// caller's context: HTML text, an attribute, a URL). An empty or missing
// value takes the fallback (escaped the same way); a placeholder that is
// unknown renders as its fallback or nothing, never as its source.
func Fill(nodes []Node, v Values, escape func(name, value string) string) string {
	var b strings.Builder
	for _, n := range nodes {
		if n.Name == "" {
			b.WriteString(n.Text)
			continue
		}
		val, ok := v[n.Name]
		if !ok || strings.TrimSpace(val) == "" {
			if !n.HasFallback {
				continue
			}
			val = n.Fallback
		}
		b.WriteString(escape(n.Name, val))
	}
	return b.String()
}
