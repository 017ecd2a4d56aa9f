package emailtemplate_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/placeholder"
)

func TestRenderFillsEscapesInlinesAndMakesText(t *testing.T) {
	tpl := emailtemplate.Template{Name: "t", Subject: "Hi {{first_name | \"there\"}} & welcome", Preheader: "Rates for {{company}}",
		BodyHTML:  `<p>Dear {{first_name}} {{last_name}},</p><p>Your {{custom.loan_amount | "loan"}} is ready. <a href="https://rateready.example/go?who={{email}}">Open</a></p>`,
		Signature: `<p>{{sender.name}}</p>`}
	c := contact.Contact{FirstName: `<b>Tom</b>`, LastName: "O'Neil & Sons", Company: "Acme <Inc>",
		Emails: []contact.Email{{Address: "tom+x@example.com"}}, Custom: map[string]string{"f1": "$450,000"}}
	defs := []contact.FieldDef{{ID: "f1", Name: "Loan amount"}}
	v := emailtemplate.Values(c, defs, emailtemplate.Sender{Name: "Andy Loan", Email: "andy@example.com"}, "https://crm.example/u/abc")
	e, err := emailtemplate.Render(tpl, v, map[string]bool{"loan_amount": true})
	if err != nil {
		t.Fatal(err)
	}
	if e.Subject != "Hi <b>Tom</b> & welcome" {
		t.Errorf("subject %q (plain text: values as they are)", e.Subject)
	}
	for _, want := range []string{"&lt;b&gt;Tom&lt;/b&gt;", "O&#39;Neil &amp; Sons", "$450,000", "who=tom%2Bx%40example.com",
		"Andy Loan", `href="https://crm.example/u/abc"`, "Acme &lt;Inc&gt;"} {
		if !strings.Contains(e.HTML, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(e.HTML, "<b>Tom</b>") {
		t.Error("a value became markup")
	}
	// The layout's CSS is inlined onto the cells.
	if !strings.Contains(e.HTML, `class="content" style="`) || !strings.Contains(e.HTML, "font-family:Arial") {
		t.Errorf("layout CSS not inlined:\n%s", e.HTML)
	}
	for _, want := range []string{"Dear <b>Tom</b> O'Neil & Sons", "$450,000 is ready", "Andy Loan"} {
		if !strings.Contains(e.Text, want) {
			t.Errorf("text part lacks %q:\n%s", want, e.Text)
		}
	}
	if strings.Contains(e.Text, "Rates for Acme") {
		t.Errorf("text part opens with the hidden preheader:\n%s", e.Text)
	}
	if e.Clipped() || len(e.Problems) != 0 {
		t.Errorf("clipped %v, problems %v", e.Clipped(), e.Problems)
	}

	// Fallbacks stand in for empty values; unknown names are flagged with
	// where they are and render as nothing.
	tpl.BodyHTML = "<p>Hi {{first_name | \"there\"}}</p>\n<p>{{favourite_colour}}</p>"
	e, err = emailtemplate.Render(tpl, emailtemplate.Values(contact.Contact{}, nil, emailtemplate.Sender{}, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.HTML, "Hi there") || strings.Contains(e.HTML, "favourite_colour") {
		t.Errorf("fallback/unknown rendering:\n%s", e.HTML)
	}
	if len(e.Problems) != 1 || e.Problems[0].Pos.Line != 2 || !strings.Contains(e.Problems[0].Source, "body") {
		t.Errorf("problems %+v", e.Problems)
	}
	if strings.Contains(e.HTML, "Unsubscribe") {
		t.Error("an unsubscribe link without a URL")
	}
}

func TestRenderWarnsPastGmailClip(t *testing.T) {
	big := strings.Repeat("<p>Line of a long newsletter that goes on and on.</p>", 2500)
	e, err := emailtemplate.Render(emailtemplate.Template{Subject: "s", BodyHTML: big}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Clipped() || e.Size() <= emailtemplate.ClipBytes {
		t.Fatalf("a %d-byte message not flagged", e.Size())
	}
}

// TestRendererCacheIsPerTemplateNotPerContact: a kept skeleton gives the
// same message as a fresh render, for each contact their own values.
func TestRendererCacheIsPerTemplateNotPerContact(t *testing.T) {
	r := emailtemplate.NewRenderer(2)
	tpl := emailtemplate.Template{Subject: "Hi {{first_name}}", BodyHTML: `<p>Dear {{first_name | "friend"}}, <a href="https://x.example/?e={{email}}">go</a></p>`}
	for _, name := range []string{"Ann", "<Bob>", "", "Ann"} {
		v := emailtemplate.Values(contact.Contact{FirstName: name, Emails: []contact.Email{{Address: name + "@example.com"}}}, nil, emailtemplate.Sender{}, "https://u.example/1")
		cached, err := r.Render(tpl, v, nil)
		if err != nil {
			t.Fatal(err)
		}
		fresh, _ := emailtemplate.Render(tpl, v, nil)
		if cached.HTML != fresh.HTML || cached.Text != fresh.Text || cached.Subject != fresh.Subject {
			t.Fatalf("%q: the kept skeleton renders differently", name)
		}
		if name == "Ann" && (!strings.Contains(cached.HTML, "Dear Ann") || strings.Contains(cached.HTML, "Bob")) {
			t.Fatalf("Ann's message: %s", cached.HTML)
		}
		if name == "" && !strings.Contains(cached.Text, "Dear friend") {
			t.Fatalf("fallback: %s", cached.Text)
		}
	}
	// An edit is a new skeleton.
	tpl.BodyHTML = "<p>Changed {{first_name}}</p>"
	e, _ := r.Render(tpl, emailtemplate.Values(contact.Contact{FirstName: "Cy"}, nil, emailtemplate.Sender{}, ""), nil)
	if !strings.Contains(e.HTML, "Changed Cy") {
		t.Fatalf("after the edit: %s", e.HTML)
	}
}

// TestMeasureIsRenderWithoutTheParts: what the preview page shows
// (subject, preheader, problems, size and the clip flag) is the same
// measured as rendered, for values that escape and a URL that is dropped.
func TestMeasureIsRenderWithoutTheParts(t *testing.T) {
	r := emailtemplate.NewRenderer(2)
	tpl := emailtemplate.Template{Subject: "Hi {{first_name}}", Preheader: "For {{company}}",
		BodyHTML: `<p>Dear {{first_name | "friend"}} of {{company}} {{nope}}, <a href="{{custom.site}}">site</a> <a href="https://x.example/?e={{email}}">go</a></p>` + strings.Repeat("<p>Long newsletter line.</p>", 4500)}
	custom := map[string]bool{"site": true}
	for _, c := range []contact.Contact{{FirstName: "Ann & <Bo>", Company: `"Q" Homes`}, {}} {
		v := emailtemplate.Values(c, nil, emailtemplate.Sender{}, "https://u.example/1")
		v["custom.site"] = "javascript:alert(1)"
		full, err := r.Render(tpl, v, custom)
		if err != nil {
			t.Fatal(err)
		}
		m, err := r.Measure(tpl, v, custom)
		if err != nil {
			t.Fatal(err)
		}
		if m.HTML != "" || m.Text != "" {
			t.Fatal("Measure made the parts")
		}
		if m.Size() != len(full.HTML) || m.Clipped() != full.Clipped() || !full.Clipped() {
			t.Fatalf("measured %d bytes (clipped %v), rendered %d (clipped %v)", m.Size(), m.Clipped(), len(full.HTML), full.Clipped())
		}
		if m.Subject != full.Subject || m.Preheader != full.Preheader || len(m.Problems) != len(full.Problems) || len(m.Problems) != 1 {
			t.Fatalf("measured %q %q %v, rendered %q %q %v", m.Subject, m.Preheader, m.Problems, full.Subject, full.Preheader, full.Problems)
		}
	}
}

func TestInlineImagesForSending(t *testing.T) {
	ws, other := "0190aaaa-0000-7000-8000-000000000001", "0190aaaa-0000-7000-8000-000000000002"
	tpl := emailtemplate.Template{Subject: "s", BodyHTML: `<p><img src="/w/` + ws + `/images/0190bbbb-0000-7000-8000-00000000000a" alt="a"></p>` +
		`<p><img src="/w/` + ws + `/images/0190bbbb-0000-7000-8000-00000000000a" alt="again"><img src="/w/` + other + `/images/0190bbbb-0000-7000-8000-00000000000b"></p>`}
	e, err := emailtemplate.Render(tpl, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	html, ids := emailtemplate.Inline(e.HTML, ws)
	if len(ids) != 1 || ids[0] != "0190bbbb-0000-7000-8000-00000000000a" {
		t.Fatalf("ids %v", ids)
	}
	if strings.Count(html, `src="cid:img-0190bbbb-0000-7000-8000-00000000000a@pi-crm"`) != 2 || strings.Contains(html, "/images/") {
		t.Fatalf("inlined: %s", html)
	}
}

// TestFillFromAStoredLayoutIsRender: a recipient's parts filled from the
// layout Render returned (as crm-sender fills a campaign's, by a fresh
// renderer that never saw the template) are Render's, escaping and custom
// fields included; the layout is the same for every recipient and another
// template's differs.
func TestFillFromAStoredLayoutIsRender(t *testing.T) {
	tpl := emailtemplate.Template{Name: "t", Subject: "Hi {{first_name}}", Preheader: "For {{company | \"you\"}}",
		BodyHTML: `<p>Hi {{first_name | "there"}} of {{company}}, your rate is {{custom.rate}}. <a href="https://x.example/?e={{email}}">Yours</a></p>`}
	custom := map[string]bool{"rate": true}
	r := emailtemplate.NewRenderer(4)
	var first emailtemplate.Layout
	for i, v := range []placeholder.Values{
		{"first_name": "Ann", "company": "Homes & <Co>", "email": "ann+1@example.com", "custom.rate": "6.1%"},
		{"first_name": "", "company": "", "email": "bob@example.com"},
	} {
		e, err := r.Render(tpl, v, custom)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = e.Layout
		} else if e.Layout != first {
			t.Fatalf("a second recipient got another layout: %s vs %s", e.Layout.ID, first.ID)
		}
		html, text := emailtemplate.NewRenderer(4).Fill(e.Layout, v)
		if html != e.HTML || text != e.Text {
			t.Fatalf("recipient %d: filled from the layout\n%s\n%s\nwant\n%s\n%s", i, html, text, e.HTML, e.Text)
		}
		if l, err := r.RenderLayout(tpl, v, custom); err != nil || l.HTML != "" || l.Text != e.Text || l.Subject != e.Subject || l.Layout != e.Layout {
			t.Fatalf("recipient %d: RenderLayout %+v %v", i, l, err)
		}
	}
	if !strings.Contains(first.HTML, "{{first_name") || first.ID == "" {
		t.Fatalf("the layout is not unfilled: %+v", first)
	}
	// A stored layout is read once, then kept compiled; one that cannot be
	// read fills nothing.
	stored, loads := emailtemplate.NewRenderer(4), 0
	for range 3 {
		if _, text, err := stored.FillStored("stored-1", placeholder.Values{"first_name": "Cat"}, func() (emailtemplate.Layout, error) {
			loads++
			return first, nil
		}); err != nil || !strings.Contains(text, "Hi Cat of") {
			t.Fatalf("filled from the store: %q %v", text, err)
		}
	}
	if loads != 1 {
		t.Fatalf("the layout was read %d times, want once", loads)
	}
	if html, _, err := stored.FillStored("stored-2", nil, func() (emailtemplate.Layout, error) { return emailtemplate.Layout{}, errors.New("gone") }); err == nil || html != "" {
		t.Fatalf("a layout that cannot be read: %q %v", html, err)
	}
	tpl.BodyHTML = "<p>Other</p>"
	if e, _ := r.Render(tpl, nil, custom); e.Layout.ID == first.ID {
		t.Fatal("another template has the same layout id")
	}
}
