package richtext_test

import (
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/pkg/richtext"
)

// TestCleanAndText: the allow-list drops scripts, handlers and styles and
// keeps links (made safe); Text reads the result as plain text.
func TestCleanAndText(t *testing.T) {
	p := richtext.New()
	got := p.Clean(`<p onclick="x()">Tom &amp; Jerry <3 <a href="https://example.com">site</a><script>alert(1)</script><b style="color:red">bold</b></p>`)
	for _, bad := range []string{"onclick", "<script", "alert(1)", "style="} {
		if strings.Contains(got, bad) {
			t.Errorf("Clean kept %q: %s", bad, got)
		}
	}
	if !strings.Contains(got, `rel="nofollow noopener"`) && !strings.Contains(got, `rel="nofollow`) {
		t.Errorf("the link is not made safe: %s", got)
	}
	if text := strings.Join(strings.Fields(richtext.Text(got)), " "); text != "Tom & Jerry <3 site bold" {
		t.Errorf("Text = %q", text)
	}
}

// TestEmailPolicy: what an email body needs stays (inline styles from the
// short list, images, links with a placeholder, button tables); scripts,
// handlers, javascript:/data: URLs and CSS that loads or runs never do.
func TestEmailPolicy(t *testing.T) {
	p := richtext.NewEmail()
	got := p.Clean(`<h2 style="color:#123456;position:fixed">Hi</h2><p onmouseover="x()">Rates <a href="https://rr.example/apply">apply</a> ` +
		`<a href="{{unsubscribe_url}}">unsubscribe</a> <a href="javascript:alert(1)">js</a> <a href="data:text/html,x">data</a></p>` +
		`<img src="cid:logo" alt="Logo" width="120"><img src="https://cdn.example/a.png"><img src="data:image/png;base64,AAAA">` +
		`<table role="presentation"><tr><td style="background-color:#1a56db;border-radius:6px;background-image:url(https://x/y)">` +
		`<a href="https://rr.example" style="color:#fff;width:expression(alert(1))">Book a call</a></td></tr></table>` +
		`<script>alert(1)</script><iframe src="https://x"></iframe><form action="https://x"><input></form><style>p{}</style>`)
	for _, want := range []string{`<h2 style="color: #123456">Hi</h2>`, `href="https://rr.example/apply"`, `href="%7B%7Bunsubscribe_url%7D%7D"`, // placeholder.Unmangle reads it back
		`src="cid:logo"`, `src="https://cdn.example/a.png"`, `role="presentation"`, `background-color: #1a56db`, `border-radius: 6px`, "Book a call"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
	for _, bad := range []string{"position", "onmouseover", "javascript:", "data:", "url(", "expression", "<script", "<iframe", "<form", "<input", "<style"} {
		if strings.Contains(got, bad) {
			t.Errorf("kept %q:\n%s", bad, got)
		}
	}
}
