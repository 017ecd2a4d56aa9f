package emailtemplate_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
)

// BenchmarkRender30KB is the render of a 30 KB body, from scratch and
// from a kept skeleton (go test -bench, for profiling; the figures that
// count are make bench's).
func BenchmarkRender30KB(b *testing.B) {
	var body strings.Builder
	for i := 0; body.Len() < 30<<10; i++ {
		fmt.Fprintf(&body, `<p>Paragraph %d for {{first_name}}: rates, inventory and days on market moved again this month; <strong>here is what it means</strong> for homeowners. <a href="https://example.com/read/%d">Read more</a></p>`, i, i)
	}
	tpl := emailtemplate.Template{Subject: "Hi {{first_name}}", BodyHTML: body.String(), Signature: "<p>{{sender.name}}</p>"}
	v := emailtemplate.Values(contact.Contact{FirstName: "Quyen"}, nil, emailtemplate.Sender{Name: "Andy"}, "#u")
	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := emailtemplate.Render(tpl, v, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kept", func(b *testing.B) {
		r := emailtemplate.NewRenderer(4)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Render(tpl, v, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
