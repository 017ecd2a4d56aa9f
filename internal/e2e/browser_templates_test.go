package e2e

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/internal/fakeai"
	"github.com/pi-crm/pi-crm/internal/testrig"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
)

// startInsights runs the real crm-insights on the app's database with the
// model at base.
func startInsights(t *testing.T, app *apptest.App, base string) *testrig.Process {
	t.Helper()
	e := newEnv(t)
	c := e.cmd("crm-insights")
	c.Env = append(c.Env, "PICRM_DB="+app.DB.Path(), "PICRM_AI_BASE_URL="+base, "PICRM_AI_MODEL=local-llama", "PICRM_AI_TIMEOUT=5s", "PICRM_LOG_LEVEL=debug")
	p := testrig.Start(t, c)
	p.Await(t, regexp.MustCompile(`AI model`), 20*time.Second)
	t.Cleanup(func() { _ = p.Stop(5 * time.Second) })
	return p
}

// TestBrowserTemplateFlow: generate a template through the wizard against
// the local model server (crm-insights answers), revise it, edit it in
// TipTap, add an image and draw a caption on it, preview it for a
// contact, copy it to another workspace, add it to Favorites, share it
// and Save As as the other user.
func TestBrowserTemplateFlow(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	logins := app.SeedDemo(0, 0)
	andy, mona := logins[0], logins[1]
	lf := workspaceID(t, app, andy.Email, "Loan Factory")
	mai := workspaceID(t, app, andy.Email, "MaiStory")
	cb := workspaceID(t, app, mona.Email, "Coldwell Banker Contacts")
	au, _ := app.Auth.UserByEmail(context.Background(), andy.Email)
	mu, _ := app.Auth.UserByEmail(context.Background(), mona.Email)
	andyA, monaA := au.Actor(""), mu.Actor("")
	if _, err := app.Contacts.Create(context.Background(), andyA, lf, contact.Fields{FirstName: ptr("Quyen"), LastName: ptr("Pham"),
		Emails: &[]contact.EmailInput{{Address: "quyen@example.com"}}}, true); err != nil {
		t.Fatal(err)
	}

	model := fakeai.New(fakeai.Answer{Content: fakeai.DraftJSON("Rates dipped: time to look again", "A two-minute read",
		`<p>Hi {{first_name | "there"}},</p><p>Rates dipped this week. <a href="https://rateready.example/apply">Check yours</a>.</p>`)})
	defer model.Close()
	model.Then(fakeai.Answer{Status: 503, Body: `{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}`, Header: map[string]string{"Retry-After": "1"}})
	startInsights(t, app, model.URL())

	ctx := browserFor(t, 3*time.Minute)
	login(t, ctx, app.URL, andy.Email, andy.Password)
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			shot(t, ctx, "templates-"+name+"-failed")
			t.Fatalf("%s: %v", name, err)
		}
	}

	// 1. The wizard: "Generate with AI" is the first button.
	step("wizard",
		chromedp.Navigate(app.URL+"/w/"+lf+"/templates"),
		chromedp.Click(`//a[text()="Generate with AI"]`),
		chromedp.WaitVisible(`#ai-goal`),
		chromedp.SendKeys(`#ai-goal`, "Tell past clients rates dipped"),
		chromedp.SendKeys(`#ai-audience`, "Past clients who might refinance"),
		chromedp.SetValue(`#ai-tone`, "Warm and personal"),
		chromedp.SendKeys(`#ai-must`, "My direct line 555-0100"),
		chromedp.Click(`//button[@data-chip="Keep it under 120 words."]`),
	)
	shot(t, ctx, "templates-wizard")
	step("generate", chromedp.Click(`//button[text()="Generate the draft"]`), chromedp.WaitVisible(`#ai-status`))
	// The 503 while "loading" shows, then the draft, without a reload.
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if err := chromedp.Do(waitCtx, chromedp.WaitVisible(`#ai-draft`)); err != nil {
		cancel()
		shot(t, ctx, "templates-draft-stuck")
		t.Fatalf("the draft never showed: %v", err)
	}
	cancel()
	subject, _ := chromedp.Run(ctx, chromedp.Text(`#ai-subject`))
	if subject != "Rates dipped: time to look again" {
		t.Fatalf("draft subject %q", subject)
	}
	reqs := model.Requests()
	if len(reqs) < 2 {
		t.Fatalf("the model server got %d requests, want the 503 and the retry", len(reqs))
	}
	for _, want := range []string{"Goal: Tell past clients rates dipped", "Audience: Past clients who might refinance", "Tone: Warm and personal",
		"Must include: My direct line 555-0100", "Keep it under 120 words.", "Business line: Loan Factory", "Sender: Andy"} {
		if !strings.Contains(reqs[1].User, want) {
			t.Errorf("the prompt lacks %q:\n%s", want, reqs[1].User)
		}
	}
	shot(t, ctx, "templates-draft")

	// 2. A revision with a comment.
	model.Then(fakeai.Answer{Content: fakeai.DraftJSON("Rates dipped, {{first_name}}", "Short version",
		`<p>Hi {{first_name | "there"}},</p><p>Rates dipped. Call me.</p>`)})
	step("revise",
		chromedp.SendKeys(`#ai-comment`, "Shorter please"),
		chromedp.Click(`//button[text()="Revise"]`),
		chromedp.WaitVisible(`//dd[@id="ai-subject" and text()="Rates dipped, {{first_name}}"]`),
	)
	if last := model.Requests()[len(model.Requests())-1]; !strings.Contains(last.User, "Shorter please") || !strings.Contains(last.User, "Rates dipped: time to look again") {
		t.Errorf("the revision prompt lacks the comment or the draft:\n%s", last.User)
	}

	// 3. Into the editor: TipTap mounts, placeholders are chips; type a
	// line and save.
	step("editor",
		chromedp.Click(`//a[text()="Open in the editor"]`),
		chromedp.WaitVisible(`.rich-area .ProseMirror`),
		chromedp.WaitVisible(`.rich-area .ph-chip`),
	)
	chip, _ := chromedp.Run(ctx, chromedp.Text(`.rich-area .ph-chip`))
	if chip != `{{first_name | "there"}}` {
		t.Errorf("the chip reads %q", chip)
	}
	step("type",
		chromedp.Click(`.rich-area .ProseMirror p:last-child`),
		chromedp.KeyEvent(" Ask me about the 15-year option."),
	)
	// The editor writes the form field on each change: wait for it before
	// saving, so a slow machine does not save the text before the keys.
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if _, err := chromedp.Run(pctx, chromedp.Poll[bool](`document.getElementById("t-body").value.includes("15-year option")`)); err != nil {
		cancel()
		shot(t, ctx, "templates-type-failed")
		t.Fatalf("the typed text never reached the form field: %v", err)
	}
	cancel()
	step("save",
		chromedp.SetValue(`#t-name`, "Rate dip"),
		chromedp.Click(`//button[text()="Save"]`),
		chromedp.WaitVisible(`//div[@role="status" and contains(., "Template saved.")]`),
	)
	list, err := app.Templates.List(context.Background(), andyA, lf)
	var tpl emailtemplate.Template
	for _, x := range list {
		if x.Name == "Rate dip" {
			tpl = x
		}
	}
	if err != nil || tpl.ID == "" {
		t.Fatalf("templates after save: %+v %v", list, err)
	}
	if !strings.Contains(tpl.BodyHTML, "15-year option") || !strings.Contains(tpl.BodyHTML, `Hi {{first_name | &#34;there&#34;}},`) || tpl.Subject != "Rates dipped, {{first_name}}" {
		t.Fatalf("saved body %q subject %q", tpl.BodyHTML, tpl.Subject)
	}

	// 4. An image through the editor's upload, then a caption drawn on it.
	photo := filepath.Join(t.TempDir(), "house.jpg")
	writeJPEG(t, photo, 800, 500)
	step("image-upload",
		chromedp.SetUploadFiles(chromedp.CSS(`.rich-toolbar input[type=file]`), []string{photo}),
		chromedp.WaitVisible(`.rich-area img`),
	)
	step("image-select", chromedp.Click(`.rich-area img`))
	// The caption panel: the Caption button opens it. About one full run
	// in twelve, the panel was not open 20 s after the click, and has not
	// been reproduced alone, even under load: a click the page did not
	// get is clicked again (and logged); a panel that never opens fails
	// with what the page looked like.
	opened := false
	for try := 1; try <= 3 && !opened; try++ {
		cctx, ccancel := context.WithTimeout(ctx, 4*time.Second)
		err := chromedp.Do(cctx, chromedp.Click(`//button[text()="Caption"]`), chromedp.WaitVisible(`.rich-caption input`))
		ccancel()
		opened = err == nil
		if !opened {
			t.Logf("the caption panel was not open after click %d: %v", try, err)
		}
	}
	if !opened {
		diag, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({panels: [...document.querySelectorAll(".rich-caption")].map(p => "hidden " + p.hidden + ", in page " + p.isConnected),
  caption: [...document.querySelectorAll("button")].filter(b => b.textContent === "Caption").map(b => { const r = b.getBoundingClientRect(); const at = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2); return r.x + "," + r.y + " under it: " + (at && at.tagName + "." + at.className); }),
  focus: document.activeElement && document.activeElement.tagName + "." + document.activeElement.className, scrollY: window.scrollY, toolbars: document.querySelectorAll(".rich-toolbar").length})`))
		shot(t, ctx, "templates-caption-open-failed")
		t.Fatalf("the caption panel never opened: %s", diag)
	}
	step("image",
		chromedp.WaitVisible(`.rich-caption input`),
		chromedp.SendKeys(`.rich-caption input`, "Rates under 6%"),
		chromedp.Click(`//button[text()="Draw caption"]`),
	)
	imgs := func() int {
		l, _ := app.Images.List(context.Background(), andyA, lf)
		return len(l)
	}
	deadline := time.Now().Add(10 * time.Second)
	for imgs() < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	gallery, _ := app.Images.List(context.Background(), andyA, lf)
	if len(gallery) != 2 || gallery[0].Caption != "Rates under 6%" {
		shot(t, ctx, "templates-caption-failed")
		status, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll(".rich-status")].map(s => s.textContent).join(" | ")`))
		t.Fatalf("images after the caption: %+v (editor says %q)", gallery, status)
	}
	step("caption-in-editor",
		chromedp.WaitVisible(`.rich-area img[src="/w/`+lf+`/images/`+gallery[0].ID+`"]`),
		chromedp.Click(`//button[@value="preview"]`),
		chromedp.WaitVisible(`#preview-subject`),
	)
	shot(t, ctx, "templates-saved-with-image")

	// 5. The preview for a contact.
	step("preview",
		chromedp.SendKeys(`#pv-q`, "Quyen"),
		chromedp.Click(`//button[text()="Show"]`),
		// The page after the search (its field holds the search as an
		// attribute): Quyen is also the newest contact, so the page before
		// it already says "For Quyen".
		chromedp.WaitVisible(`//input[@id="pv-q" and @value="Quyen"]`),
		chromedp.WaitVisible(`//p[@id="preview-for" and contains(., "Quyen")]`),
	)
	step("text-part",
		chromedp.Click(`#preview-text-part summary`),
		chromedp.WaitVisible(`//pre[@id="preview-text" and contains(., "Quyen")]`),
	)
	pv, _ := chromedp.Run(ctx, chromedp.Text(`#preview-subject`))
	// htmx swaps the text in: read it in one evaluation, not a node lookup
	// then a read of what the lookup found.
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#preview-text").textContent`))
	if pv != "Rates dipped, Quyen" || !strings.Contains(text, "Hi Quyen,") || !strings.Contains(text, "15-year option") {
		t.Fatalf("preview subject %q text %q", pv, text)
	}
	frame, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`iframe`), "src"))
	shot(t, ctx, "templates-preview")
	step("frame", chromedp.Navigate(app.URL+frame.Value), chromedp.WaitVisible(`img`))
	loaded, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`[...document.images].every(i => i.complete && i.naturalWidth > 0)`))
	if !loaded {
		t.Error("the preview's image did not load")
	}

	// 6. Copy to MaiStory, with its own copy of the image.
	step("copy",
		chromedp.Navigate(app.URL+"/w/"+lf+"/templates/"+tpl.ID),
		chromedp.WaitVisible(`#copy-to`),
		chromedp.SetValue(`#copy-to`, mai),
		chromedp.Click(`//button[text()="Copy"]`),
		chromedp.WaitVisible(`//div[@role="status" and contains(., "Copied as")]`),
	)
	copies, _ := app.Templates.List(context.Background(), andyA, mai)
	if len(copies) != 1 || !strings.Contains(copies[0].BodyHTML, "/w/"+mai+"/images/") {
		t.Fatalf("MaiStory's templates %+v", copies)
	}

	// 7. Favorites.
	step("favorite",
		chromedp.Navigate(app.URL+"/w/"+lf+"/templates/"+tpl.ID),
		chromedp.Click(`//button[text()="Add to Favorites"]`),
		chromedp.WaitVisible(`//div[@role="status" and contains(., "Favorites")]`),
		chromedp.Navigate(app.URL+"/favorites"),
		chromedp.WaitVisible(`//ul[@id="favorites"]//p[text()="Rate dip"]`),
	)

	// 8. Share with Monalisa; she saves a copy into her workspace.
	step("share",
		chromedp.Navigate(app.URL+"/w/"+lf+"/templates/"+tpl.ID),
		chromedp.SetValue(`#share-with`, mu.ID),
		chromedp.Click(`//button[text()="Share"]`),
		chromedp.WaitVisible(`#shared-to`),
		chromedp.Click(`//button[text()="Log out" and not(ancestor::form[contains(@class, "md:hidden")])]`),
		chromedp.WaitVisible(`#email`),
	)
	login(t, ctx, app.URL, mona.Email, mona.Password)
	step("save-as",
		chromedp.Navigate(app.URL+"/shared"),
		chromedp.Click(`//ul[@id="shared-templates"]//a[text()="Rate dip"]`),
		chromedp.WaitVisible(`#save-to`),
		chromedp.SetValue(`#save-to`, cb),
		chromedp.Click(`//button[text()="Save As"]`),
		chromedp.WaitVisible(`//div[@role="status" and contains(., "Saved a copy")]`),
	)
	all, _ := app.Templates.List(context.Background(), monaA, cb)
	var hers []emailtemplate.Template
	for _, x := range all {
		if x.Name == "Rate dip" {
			hers = append(hers, x)
		}
	}
	if len(hers) != 1 || strings.Contains(hers[0].BodyHTML, lf) || !strings.Contains(hers[0].BodyHTML, "/w/"+cb+"/images/") {
		t.Fatalf("Monalisa's templates %+v", all)
	}
	shot(t, ctx, "templates-saved-as")

	// The editor fits a phone, every control on the screen.
	step("phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(app.URL+"/w/"+cb+"/templates/"+hers[0].ID), chromedp.WaitVisible(`.rich-area .ProseMirror`))
	problems, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fitCheck))
	if err != nil || len(problems) > 0 {
		t.Errorf("the editor at 390 px: %v %v", problems, err)
	}
	shot(t, ctx, "templates-editor-390")
}

func ptr(s string) *string { return &s }

func writeJPEG(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 180, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
