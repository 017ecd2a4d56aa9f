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
