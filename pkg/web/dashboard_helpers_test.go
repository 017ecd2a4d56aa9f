package web_test

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/internal/apptest"
)

var widgetURL = regexp.MustCompile(`hx-get="([^"]+/widgets/[^"]+)"`)

// dashboard loads the dashboard at path as a browser does: the page, then
// each widget it asks for, in the page's order; it returns them joined.
func dashboard(t *testing.T, app *apptest.App, c *http.Client, path string) string {
	t.Helper()
	resp, page := app.Do(c, http.MethodGet, path, nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	var b strings.Builder
	b.WriteString(page)
	for _, m := range widgetURL.FindAllStringSubmatch(page, -1) {
		u := html.UnescapeString(m[1])
		resp, part := app.Do(c, http.MethodGet, u, nil, http.Header{"HX-Request": {"true"}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", u, resp.StatusCode, apptest.Trim(part))
		}
		b.WriteString(part)
	}
	return b.String()
}

// widget returns the widget id's section of a loaded dashboard, "" when
// it is not there.
func widget(page, id string) string {
	i := strings.Index(page, `<section class="card" id="w-`+id+`" data-widget="`+id+`">`)
	if i < 0 {
		return ""
	}
	rest := page[i:]
	return rest[:strings.Index(rest, "</section>")+len("</section>")]
}
