package placeholder

import (
	"strings"
	"testing"
)

var custom = map[string]bool{"loan_amount": true}

func TestParseAndFill(t *testing.T) {
	v := Values{"first_name": "Kim", "company": "", "custom.loan_amount": "650,000"}
	cases := []struct{ src, want string }{
		{"Hi {{first_name}},", "Hi Kim,"},
		{"Hi {{ first_name }}!", "Hi Kim!"},
		{`Hi {{company | "friend"}}`, "Hi friend"},
		{`Hi {{last_name | "there"}}`, "Hi there"},
		{`{{first_name | "a \"quoted\" \\ one"}}`, "Kim"},
		{`{{last_name | "a \"quoted\" \\ one"}}`, `a "quoted" \ one`},
		{"Loan: {{custom.loan_amount}}", "Loan: 650,000"},
		{"{{last_name}}", ""},
		{"no placeholders", "no placeholders"},
	}
	for _, c := range cases {
		got, probs := Text(c.src, v, custom)
		if got != c.want || len(probs) != 0 {
			t.Errorf("Text(%q) = %q %v, want %q", c.src, got, probs, c.want)
		}
	}
}

// TestProblemsHavePositions: unknown names and bad syntax are reported
// with line and column, and bad syntax stays as typed.
func TestProblemsHavePositions(t *testing.T) {
	src := "Hello {{frist_name}},\nabout {{custom.rate}} and {{first_name | there}} {{ }} {{first_name"
	got, probs := Text(src, Values{"first_name": "Kim"}, custom)
	want := []struct {
		line, col int
		has       string
	}{{1, 7, "unknown placeholder"}, {2, 7, `no custom field "rate"`}, {2, 27, "double quotes"}, {2, 50, "needs a name"}, {2, 56, "not closed"}}
	if len(probs) != len(want) {
		t.Fatalf("problems %v, want %d", probs, len(want))
	}
	for i, w := range want {
		p := probs[i]
		if p.Pos.Line != w.line || p.Pos.Col != w.col || !strings.Contains(p.Message, w.has) {
			t.Errorf("problem %d: %v, want line %d col %d with %q", i, p, w.line, w.col, w.has)
		}
	}
	if !strings.Contains(got, "{{first_name | there}}") || !strings.Contains(got, "{{first_name") || strings.Contains(got, "frist_name") {
		t.Errorf("bad syntax must stay as typed and an unknown name render as nothing: %q", got)
	}
}

// TestHTMLEscapesForEachContext: a value with markup stays text; in href a
// value is percent-encoded, the unsubscribe URL goes in whole, and a
// javascript: URL made from values is dropped.
func TestHTMLEscapesForEachContext(t *testing.T) {
	v := Values{"first_name": `<img src=x onerror=alert(1)>"Kim"`, "company": "A&B / C?d=1", "unsubscribe_url": "https://pi.example/u/abc?t=1&x=2",
		"custom.loan_amount": "javascript:alert(1)"}
	body := `<p>Hi {{first_name}}</p><a href="https://x.example/r?c={{company}}">go</a><a href="%7B%7Bunsubscribe_url%7D%7D">unsubscribe</a>` +
		`<a href="{{custom.loan_amount}}">bad</a><a href="javascript:{{first_name}}">worse</a><p title="{{first_name}}">t</p><script>{{first_name}}</script><style>p > b {color:red}</style>`
	got, probs := HTML(body, v, custom)
	if len(probs) != 0 {
		t.Fatalf("problems: %v", probs)
	}
	for _, want := range []string{
		`<p>Hi &lt;img src=x onerror=alert(1)&gt;&#34;Kim&#34;</p>`,
		`href="https://x.example/r?c=A%26B%20%2F%20C%3Fd%3D1"`,
		`href="https://pi.example/u/abc?t=1&amp;x=2"`,
		`<a href="javascript%3Aalert%281%29">bad</a>`, // a value is a part of the URL, never its scheme
		`<a>worse</a>`,
		`title="&lt;img src=x onerror=alert(1)&gt;&#34;Kim&#34;"`,
		`<style>p > b {color:red}</style>`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
	if strings.Contains(got, "<script") || strings.Contains(got, "javascript:") || strings.Contains(got, "<img") {
		t.Fatalf("code survived:\n%s", got)
	}
}

// FuzzFill: whatever the source and the values, filling never panics,
// never lets a value's markup out, and keeps every literal character of
// plain text outside placeholders.
func FuzzFill(f *testing.F) {
	for _, s := range []string{"Hi {{first_name}}", `{{a | "b`, "{{{{}}}}", `{{first_name | "\\"x"}}`, "{{custom.loan_amount}}\n{{", "<a href=\"{{company}}\">x</a>"} {
		f.Add(s, "<b>v</b>")
	}
	f.Fuzz(func(t *testing.T, src, val string) {
		v := Values{"first_name": val, "company": val, "custom.loan_amount": val}
		out, _ := Text(src, v, custom)
		if !strings.Contains(src, "{{") && out != src {
			t.Fatalf("text without placeholders changed: %q -> %q", src, out)
		}
		h, _ := HTML(src, v, custom)
		if strings.Contains(val, "<") && strings.Contains(h, val) && !strings.Contains(src, val) {
			t.Fatalf("a value's markup came out unescaped: %q", h)
		}
		if strings.Contains(strings.ToLower(h), "<script") {
			t.Fatalf("a script came out: %q", h)
		}
		if c, _ := Compile(src, custom); c.Len(v) != len(h) {
			t.Fatalf("Len says %d bytes, Fill made %d: %q", c.Len(v), len(h), h)
		}
	})
}
