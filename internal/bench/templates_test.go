package bench

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/pi-crm/pi-crm/internal/fakeai"
	"github.com/pi-crm/pi-crm/internal/services"
	"github.com/pi-crm/pi-crm/internal/testrig"
	"github.com/pi-crm/pi-crm/pkg/ai"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/images"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// openServices opens the bench's database from this process, as another
// connection (and process) than the daemons under test.
func (b *bench) openServices() (*services.Services, auth.Actor, string, func()) {
	db, err := store.Open(filepath.Join(b.dir, "pi-crm.db"), store.Options{PoolSize: 2})
	if err != nil {
		b.t.Fatal(err)
	}
	svc := services.New(db, slog.New(slog.DiscardHandler), services.Options{DataDir: b.dir})
	ctx := context.Background()
	email, _ := demoLogin(b.t, b.dir)
	u, err := svc.Auth.UserByEmail(ctx, email)
	if err != nil {
		b.t.Fatal(err)
	}
	actor := u.Actor("bench")
	spaces, err := svc.Workspaces.List(ctx, actor)
	if err != nil || len(spaces) == 0 {
		b.t.Fatalf("workspaces: %v", err)
	}
	return svc, actor, spaces[0].ID, func() { db.Close() }
}

// bigTemplate is a 30 KB body with 20 placeholders and the two images.
func bigTemplate(wsID string, imgs []string) emailtemplate.Change {
	names := []string{"first_name", "last_name", "company", "email", "sender.name"}
	var body strings.Builder
	body.WriteString(`<h2>Market update for {{first_name | "you"}}</h2>`)
	for i, id := range imgs {
		fmt.Fprintf(&body, `<p><img src="%s" alt="photo %d"></p>`, images.URL(wsID, id), i)
	}
	for i := 0; body.Len() < 30<<10; i++ {
		ph := ""
		if i < 19 {
			ph = "{{" + names[i%len(names)] + "}}"
		}
		fmt.Fprintf(&body, `<p>Paragraph %d for %s: rates, inventory and days on market moved again this month; <strong>here is what it means</strong> for homeowners and buyers in the neighbourhood. <a href="https://example.com/read/%d">Read more</a></p>`, i, ph, i)
	}
	return emailtemplate.Change{Name: "Bench 30 KB", Subject: "Update for {{first_name}}", Preheader: "The month in numbers", BodyHTML: body.String(), Signature: "<p>{{sender.name}}</p>"}
}

// templates measures the preview page of a 30 KB template with 20
// placeholders and 2 images under 8 clients (template_preview_p99_ms: the
// page renders the template for a contact, with premailer's inlining and
// the text part), inside a real crm-web.
func (b *bench) templates() {
	svc, actor, ws, closeDB := b.openServices()
	defer closeDB()
	ctx := context.Background()
	var ids []string
	for i := range 2 {
		img := image.NewRGBA(image.Rect(0, 0, 600, 300))
		for p := range img.Pix {
			img.Pix[p] = uint8(p * (i + 3))
		}
		img.Set(0, 0, color.RGBA{255, 0, 0, 255})
		var buf bytes.Buffer
		_ = jpeg.Encode(&buf, img, nil)
		im, err := svc.Images.Upload(ctx, actor, ws, fmt.Sprintf("photo%d.jpg", i), buf.Bytes())
		if err != nil {
			b.t.Fatal(err)
		}
		ids = append(ids, im.ID)
	}
	first, last, company := "Quyen", "Pham", "Pham & Co"
	if _, err := svc.Contacts.Create(ctx, actor, ws, contact.Fields{FirstName: &first, LastName: &last, Company: &company,
		Emails: &[]contact.EmailInput{{Address: "quyen@example.com"}}}, true); err != nil {
		b.t.Fatal(err)
	}
	tpl, err := svc.Templates.Create(ctx, actor, ws, bigTemplate(ws, ids))
	if err != nil {
		b.t.Fatal(err)
	}
	if n := len(tpl.BodyHTML); n < 30<<10 {
		b.t.Fatalf("the template is %d bytes", n)
	}
	base, web := startWeb(b.t, b.bin, b.vars)
	defer web.Stop(10 * time.Second)
	email, pw := demoLogin(b.t, b.dir)
	transport := &http.Transport{MaxIdleConnsPerHost: 32}
	client := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		cl := &http.Client{Transport: transport, Jar: jar}
		req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(url.Values{"email": {email}, "password": {pw}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := cl.Do(req)
		if err != nil {
			b.t.Fatal(err)
		}
		resp.Body.Close()
		return cl
	}
	p50, p99 := percentiles(b.t, 8, 10*time.Second, client, base+"/w/"+ws+"/templates/"+tpl.ID+"/preview")
	b.report("template_preview_p99_ms", p99, "ms")
	b.report("template_preview_p50_ms", p50, "ms")
	// The message itself, in the preview's frame: the whole 30 KB filled.
	p50, p99 = percentiles(b.t, 8, 10*time.Second, client, base+"/w/"+ws+"/templates/"+tpl.ID+"/preview/frame")
	b.report("template_preview_frame_p99_ms", p99, "ms")
	b.report("template_preview_frame_p50_ms", p50, "ms")
	// The same clients on a page without a template: what any signed-in
	// page costs on this machine, for the ratio.
	p50, p99 = percentiles(b.t, 8, 10*time.Second, client, base+"/w/"+ws+"/templates")
	b.report("template_preview_baseline_list_p99_ms", p99, "ms")
	b.report("template_preview_baseline_list_p50_ms", p50, "ms")
}

// aiPickup measures how long after the web commits an AI request the real
// crm-insights has claimed it and its request is at the model server
// (ai_job_pickup_p99_ms; 100 requests at random gaps).
func (b *bench) aiPickup() {
	model := fakeai.New(fakeai.Answer{Content: fakeai.DraftJSON("Hello", "Hi", "<p>Hi {{first_name}}</p>")})
	defer model.Close()
	svc, actor, ws, closeDB := b.openServices()
	defer closeDB()
	ns := testrig.NewNotifySocket(b.t)
	c := b.cmd("crm-insights", "NOTIFY_SOCKET="+ns.Path, "PICRM_AI_BASE_URL="+model.URL(), "PICRM_AI_MODEL=bench-model")
	if err := c.Start(); err != nil {
		b.t.Fatal(err)
	}
	defer stop(c)
	if !ready(ns) {
		b.t.Fatal("crm-insights sent no READY=1")
	}
	time.Sleep(time.Second)
	ctx := context.Background()
	var lat []float64
	for i := range 100 {
		time.Sleep(time.Duration(20+rand.IntN(180)) * time.Millisecond)
		for len(model.Got()) > 0 {
			<-model.Got()
		}
		if _, err := svc.Drafts.Ask(ctx, actor, ws, "", "", ai.Brief{Goal: fmt.Sprintf("bench %d", i)}); err != nil {
			b.t.Fatal(err)
		}
		asked := time.Now()
		select {
		case <-model.Got():
		case <-time.After(10 * time.Second):
			b.t.Fatalf("crm-insights did not call the model for request %d within 10 s", i)
		}
		lat = append(lat, float64(time.Since(asked).Microseconds())/1000)
	}
	b.report("ai_job_pickup_p99_ms", testrig.Percentile(lat, 0.99), "ms")
	b.report("ai_job_pickup_p50_ms", testrig.Percentile(lat, 0.5), "ms")
}
