package emailtemplate_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/images"
)

func TestTemplateCRUDAuditAndIsolation(t *testing.T) {
	app := apptest.New(t, apptest.Options{NoJobs: true})
	ctx := context.Background()
	andy, mona := app.NewUser("andy"), app.NewUser("mona")
	lf, mai := andy.Workspace("Loan Factory"), andy.Workspace("MaiStory")
	cb := mona.Workspace("Coldwell Banker")
	ts := app.Templates

	in := emailtemplate.Change{Name: "  Rate drop ", Subject: "Rates fell, {{first_name | \"friend\"}}", Preheader: "A quick note",
		BodyHTML:  `<p>Hi {{first_name}},</p><p>Rates <strong>fell</strong>. <a href="https://rateready.example/?u={{email}}">See yours</a></p>`,
		Signature: "<p>{{sender.name}}</p>"}
	tpl, err := ts.Create(ctx, andy.Actor, lf.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	if tpl.Name != "Rate drop" || tpl.WorkspaceID != lf.ID || !strings.Contains(tpl.BodyHTML, "{{email}}") {
		t.Fatalf("created %+v", tpl)
	}
	// The name is unique per workspace in any case, and free in another.
	in.Name = "RATE DROP"
	if _, err := ts.Create(ctx, andy.Actor, lf.ID, in); errs.As(err) == nil || errs.As(err).Fields["name"] == "" {
		t.Fatalf("a second RATE DROP in Loan Factory: %v", err)
	}
	if _, err := ts.Create(ctx, andy.Actor, mai.ID, in); err != nil {
		t.Fatalf("the same name in MaiStory: %v", err)
	}

	// Another user's workspace and template answer NotFound, whatever the call.
	for name, call := range map[string]func() error{
		"list":   func() error { _, err := ts.List(ctx, mona.Actor, lf.ID); return err },
		"get":    func() error { _, err := ts.Get(ctx, mona.Actor, lf.ID, tpl.ID); return err },
		"get-cb": func() error { _, err := ts.Get(ctx, mona.Actor, cb.ID, tpl.ID); return err },
		"update": func() error { _, err := ts.Update(ctx, mona.Actor, cb.ID, tpl.ID, in); return err },
		"delete": func() error { return ts.Delete(ctx, mona.Actor, cb.ID, tpl.ID) },
		"copy-in": func() error {
			_, err := ts.Copy(ctx, mona.Actor, lf.ID, tpl.ID, cb.ID)
			return err
		},
		"copy-out": func() error { _, err := ts.Copy(ctx, andy.Actor, lf.ID, tpl.ID, cb.ID); return err },
	} {
		if errs.KindOf(call()) != errs.NotFound {
			t.Errorf("%s across users: want NotFound, got %v", name, call())
		}
	}
	if got, _ := ts.Get(ctx, andy.Actor, lf.ID, tpl.ID); got.Name != "Rate drop" {
		t.Fatalf("mona's tries changed andy's template: %+v", got)
	}

	// Copies take a free name.
	c1, err := ts.Copy(ctx, andy.Actor, lf.ID, tpl.ID, lf.ID)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := ts.Copy(ctx, andy.Actor, lf.ID, tpl.ID, lf.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c1.Name != "Rate drop (copy)" || c2.Name != "Rate drop (copy 2)" || c1.CopiedFrom != tpl.ID {
		t.Fatalf("copies named %q, %q (from %q)", c1.Name, c2.Name, c1.CopiedFrom)
	}

	up := in
	up.Name = "Rate drop, June"
	if _, err := ts.Update(ctx, andy.Actor, lf.ID, tpl.ID, up); err != nil {
		t.Fatal(err)
	}
	if err := ts.Delete(ctx, andy.Actor, lf.ID, c2.ID); err != nil {
		t.Fatal(err)
	}
	list, _ := ts.List(ctx, andy.Actor, lf.ID)
	var names []string
	for _, x := range list {
		names = append(names, x.Name)
	}
	if strings.Join(names, "|") != "Rate drop (copy)|Rate drop, June" {
		t.Fatalf("Loan Factory lists %v", names)
	}

	page, err := app.Audit.List(ctx, andy.Actor.UserID, "", 50)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range page.Entries {
		if e.EntityType == "email_template" {
			seen[e.Action]++
		}
	}
	if seen["template.create"] != 2 || seen["template.copy"] != 2 || seen["template.update"] != 1 || seen["template.delete"] != 1 {
		t.Fatalf("audit rows %v", seen)
	}
}

func TestTemplateChecksKeepWhatWasTyped(t *testing.T) {
	app := apptest.New(t, apptest.Options{NoJobs: true})
	ctx := context.Background()
	andy := app.NewUser("andy")
	lf := andy.Workspace("Loan Factory")
	cases := []struct {
		name  string
		c     emailtemplate.Change
		field string
		says  string
	}{
		{"no name", emailtemplate.Change{Subject: "s", BodyHTML: "<p>x</p>"}, "name", "name"},
		{"no subject", emailtemplate.Change{Name: "n", BodyHTML: "<p>x</p>"}, "subject", "subject"},
		{"two-line subject", emailtemplate.Change{Name: "n", Subject: "a\nb", BodyHTML: "<p>x</p>"}, "subject", "one line"},
		{"empty body", emailtemplate.Change{Name: "n", Subject: "s", BodyHTML: "<p> </p>"}, "body", "Write"},
		{"script only", emailtemplate.Change{Name: "n", Subject: "s", BodyHTML: "<script>alert(1)</script>"}, "body", "Write"},
		{"unknown placeholder", emailtemplate.Change{Name: "n", Subject: "s", BodyHTML: "<p>Hi</p>\n<p>{{frist_name}}</p>"}, "body", "line 2"},
		{"unknown in subject", emailtemplate.Change{Name: "n", Subject: "Hi {{custom.loan_amount}}", BodyHTML: "<p>x</p>"}, "subject", "custom.loan_amount"},
		{"unclosed", emailtemplate.Change{Name: "n", Subject: "s", BodyHTML: "<p>{{first_name</p>"}, "body", "column"},
	}
	for _, tc := range cases {
		_, err := app.Templates.Create(ctx, andy.Actor, lf.ID, tc.c)
		e := errs.As(err)
		if e == nil || !strings.Contains(e.Fields[tc.field], tc.says) {
			t.Errorf("%s: want a %s error saying %q, got %v", tc.name, tc.field, tc.says, err)
		}
	}
	// A custom field the workspace has is a known placeholder.
	if _, err := app.Contacts.CreateField(ctx, andy.Actor, lf.ID, contactField("Loan amount"), false); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Templates.Create(ctx, andy.Actor, lf.ID, emailtemplate.Change{Name: "n", Subject: "About {{custom.loan_amount}}", BodyHTML: "<p>x</p>"}); err != nil {
		t.Fatalf("custom.loan_amount with the field defined: %v", err)
	}
	// Nothing failed half-way: only the good template is there.
	if list, _ := app.Templates.List(ctx, andy.Actor, lf.ID); len(list) != 1 {
		t.Fatalf("%d templates after the refused ones", len(list))
	}
}

// TestTemplateSanitizing stores hostile HTML, as the editor, a paste or
// the model might send it, and checks none of it survives.
func TestTemplateSanitizing(t *testing.T) {
	app := apptest.New(t, apptest.Options{NoJobs: true})
	ctx := context.Background()
	andy := app.NewUser("andy")
	lf := andy.Workspace("Loan Factory")
	body := `<p onclick="steal()">Hello <b>there</b></p>
<script>alert(1)</script><img src="x" onerror="alert(2)"><a href="javascript:alert(3)">js</a>
<a href="data:text/html;base64,PHNjcmlwdD4=">data</a><img src="data:image/png;base64,AAAA">
<p style="color: red; background-image: url(https://evil.example/x); width: expression(alert(4))">styled</p>
<iframe src="https://evil.example"></iframe><form action="https://evil.example"><input name="pw"></form>
<svg onload="alert(5)"></svg><style>body{background:url(https://evil.example/y)}</style>
<a href="{{unsubscribe_url}}">Unsubscribe</a> <a href="https://rateready.example/{{first_name}}">go</a>`
	tpl, err := app.Templates.Create(ctx, andy.Actor, lf.ID, emailtemplate.Change{Name: "hostile", Subject: "s", BodyHTML: body})
	if err != nil {
		t.Fatal(err)
	}
	// A quote smuggled into a URL's placeholder cannot leave the attribute.
	_, err = app.Templates.Create(ctx, andy.Actor, lf.ID, emailtemplate.Change{Name: "quote", Subject: "s",
		BodyHTML: `<p><a href="https://x.example/%7B%7B%22%20onmouseover=%22alert(6)%7D%7D">q</a></p>`})
	if e := errs.As(err); e == nil || !strings.Contains(e.Fields["body"], "needs a name") {
		t.Fatalf("a quote in a URL placeholder: %v", err)
	}
	low := strings.ToLower(tpl.BodyHTML)
	for _, bad := range []string{"<script", "onclick", "onerror", "onload", "javascript:", "data:", "expression(", "url(", "<iframe", "<form", "<input", "<svg", "<style", "evil.example", "onmouseover=\""} {
		if strings.Contains(low, bad) {
			t.Errorf("stored body keeps %q:\n%s", bad, tpl.BodyHTML)
		}
	}
	// The editor's chips are stored as the placeholders they hold.
	chipped, err := app.Templates.Create(ctx, andy.Actor, lf.ID, emailtemplate.Change{Name: "chips", Subject: "s",
		BodyHTML: `<p>Hi <span data-placeholder="first_name" data-fallback="there" class="ph-chip">{{first_name | "there"}}</span>, welcome</p>`})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(chipped.BodyHTML, "<span") || !strings.Contains(chipped.BodyHTML, "Hi {{first_name | &#34;there&#34;}}, welcome") {
		t.Errorf("chip stored as %s", chipped.BodyHTML)
	}
	for _, good := range []string{"<b>there</b>", "color: red", `href="{{unsubscribe_url}}"`, `href="https://rateready.example/{{first_name}}"`} {
		if !strings.Contains(tpl.BodyHTML, good) {
			t.Errorf("stored body lost %q:\n%s", good, tpl.BodyHTML)
		}
	}
}

func contactField(name string) contact.FieldDef { return contact.FieldDef{Name: name, Type: "text"} }

func TestShareSaveAsFavoritesCarryImages(t *testing.T) {
	app := apptest.New(t, apptest.Options{NoJobs: true})
	ctx := context.Background()
	andy, mona, kim := app.NewUser("andy"), app.NewUser("mona"), app.NewUser("kim")
	lf, mai := andy.Workspace("Loan Factory"), andy.Workspace("MaiStory")
	cb := mona.Workspace("Coldwell Banker")
	var buf bytes.Buffer
	_ = png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 8, 8)))
	im, err := app.Images.Upload(ctx, andy.Actor, lf.ID, "logo.png", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	body := `<p>Hello {{first_name}}</p><p><img src="` + images.URL(lf.ID, im.ID) + `" alt="logo"></p>`
	tpl, err := app.Templates.Create(ctx, andy.Actor, lf.ID, emailtemplate.Change{Name: "Open house", Subject: "Come by", BodyHTML: body})
	if err != nil {
		t.Fatal(err)
	}
	// Not shared yet: mona cannot see it.
	if _, err := app.Templates.GetShared(ctx, mona.Actor, tpl.ID); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("unshared: %v", err)
	}
	if err := app.Templates.ShareWith(ctx, andy.Actor, lf.ID, tpl.ID, mona.ID); err != nil {
		t.Fatal(err)
	}
	if err := app.Templates.ShareWith(ctx, mona.Actor, cb.ID, tpl.ID, kim.ID); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("mona re-shares andy's template: %v", err)
	}
	list, _ := app.Templates.SharedWithMe(ctx, mona.Actor)
	if len(list) != 1 || list[0].Template.ID != tpl.ID || list[0].OwnerName != "andy" {
		t.Fatalf("shared with mona: %+v", list)
	}
	if l, _ := app.Templates.SharedWithMe(ctx, kim.Actor); len(l) != 0 {
		t.Fatalf("kim sees %+v", l)
	}
	// Save As lands in mona's workspace with her own copy of the image.
	saved, err := app.Templates.SaveAs(ctx, mona.Actor, tpl.ID, cb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if saved.WorkspaceID != cb.ID || strings.Contains(saved.BodyHTML, lf.ID) || !strings.Contains(saved.BodyHTML, "/w/"+cb.ID+"/images/") {
		t.Fatalf("saved body %s", saved.BodyHTML)
	}
	imgs, _ := app.Images.List(ctx, mona.Actor, cb.ID)
	if len(imgs) != 1 || !strings.Contains(saved.BodyHTML, imgs[0].ID) {
		t.Fatalf("mona's images %+v", imgs)
	}
	if _, err := app.Templates.SaveAs(ctx, mona.Actor, tpl.ID, lf.ID); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("save into andy's workspace: %v", err)
	}
	// Revoked: gone for her, her copy stays.
	if err := app.Templates.Unshare(ctx, andy.Actor, lf.ID, tpl.ID, mona.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Templates.GetShared(ctx, mona.Actor, tpl.ID); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("after revoke: %v", err)
	}
	if _, err := app.Templates.SaveAs(ctx, mona.Actor, tpl.ID, cb.ID); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("save as after revoke: %v", err)
	}
	if _, err := app.Templates.Get(ctx, mona.Actor, cb.ID, saved.ID); err != nil {
		t.Fatalf("mona's copy after revoke: %v", err)
	}

	// Favorites: kept apart from the workspace, pushed into another one
	// with the image, and only their owner's.
	fav, err := app.Templates.AddFavorite(ctx, andy.Actor, lf.ID, tpl.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Templates.Delete(ctx, andy.Actor, lf.ID, tpl.ID); err != nil {
		t.Fatal(err)
	}
	pushed, err := app.Templates.PushFavorite(ctx, andy.Actor, fav.ID, mai.ID)
	if err != nil {
		t.Fatal(err)
	}
	if pushed.Name != "Open house" || !strings.Contains(pushed.BodyHTML, "/w/"+mai.ID+"/images/") {
		t.Fatalf("pushed %+v", pushed)
	}
	if _, err := app.Templates.PushFavorite(ctx, mona.Actor, fav.ID, cb.ID); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("mona pushes andy's favorite: %v", err)
	}
	if f, _ := app.Templates.Favorites(ctx, mona.Actor); len(f) != 0 {
		t.Fatalf("mona's favorites %+v", f)
	}
	if err := app.Templates.RemoveFavorite(ctx, andy.Actor, fav.ID); err != nil {
		t.Fatal(err)
	}
	if f, _ := app.Templates.Favorites(ctx, andy.Actor); len(f) != 0 {
		t.Fatalf("after remove %+v", f)
	}
}
