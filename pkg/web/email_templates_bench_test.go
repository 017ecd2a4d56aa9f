package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
)

// BenchmarkPreviewPage serves the preview page of a 30 KB template in
// process, for profiling (go test -bench PreviewPage -cpuprofile); the
// figure that counts is make bench's template_preview_p99_ms.
func BenchmarkPreviewPage(b *testing.B) {
	app := apptest.New(b, apptest.Options{NoJobs: true})
	andy := app.NewUser("Andy")
	ws := andy.Workspace("LF")
	andy.Contact(ws.ID, "Quyen", "q@example.com")
	var body strings.Builder
	for i := 0; body.Len() < 30<<10; i++ {
		fmt.Fprintf(&body, `<p>Paragraph %d for {{first_name}}: rates, inventory and days on market moved again this month; <strong>here is what it means</strong> for homeowners. <a href="https://example.com/read/%d">Read more</a></p>`, i, i)
	}
	tpl, err := app.Templates.Create(context.Background(), andy.Actor, ws.ID, emailtemplate.Change{Name: "x", Subject: "Hi", BodyHTML: body.String()})
	if err != nil {
		b.Fatal(err)
	}
	u := "/w/" + ws.ID + "/templates/" + tpl.ID + "/preview"
	for b.Loop() {
		resp, _ := app.Do(andy.Client, http.MethodGet, u, nil, nil)
		if resp.StatusCode != 200 {
			b.Fatal(resp.StatusCode)
		}
	}
}
