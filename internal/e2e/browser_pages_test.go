package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/internal/fakeai"
	"github.com/pi-crm/pi-crm/internal/fakegoogle"
	"github.com/pi-crm/pi-crm/internal/fakemicrosoft"
	"github.com/pi-crm/pi-crm/internal/testrig"
	"github.com/pi-crm/pi-crm/pkg/ai"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/campaign"
	"github.com/pi-crm/pi-crm/pkg/compose"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/events"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/phone"
	"github.com/pi-crm/pi-crm/pkg/todo"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// fitCheck lists what does not fit the viewport: the document wider than
// it, and every visible link, button, field and menu outside it (one in a
// sideways-scrolling box counts: on a phone it cannot be seen).
const fitCheck = `(() => {
  const vw = document.documentElement.clientWidth;
  const out = [];
  if (document.documentElement.scrollWidth > vw + 1) out.push("the document is " + document.documentElement.scrollWidth + " px wide");
  for (const el of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (getComputedStyle(el).visibility === 'hidden') continue;
    if (r.left < -1 || r.right > vw + 1) {
      const name = (el.getAttribute('aria-label') || el.name || el.textContent || el.tagName).trim().replace(/\s+/g, ' ').slice(0, 40);
      out.push(el.tagName.toLowerCase() + " \"" + name + "\" at " + Math.round(r.left) + "-" + Math.round(r.right) + " px");
    }
  }
  return out;
})()`

// TestBrowserEveryPageFits renders every page both demo users reach, with
// the demo data, at a phone's 390 px and a laptop's 1366 px, and fails when
// a page is wider than the screen or a control is outside it. Screenshots
// of each are kept in test-artifacts/pages.
func TestBrowserEveryPageFits(t *testing.T) {
	ctx := context.Background()
	app := apptest.New(t, apptest.Options{})
	logins := app.SeedDemo(60, 300)
	dir := filepath.Join(artifactDir(t), "pages")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range logins {
		t.Run(l.Name, func(t *testing.T) {
			u, _ := app.Auth.UserByEmail(ctx, l.Email)
			actor := u.Actor("")
			pages := pagesOf(t, app, actor, l.Name)
			bctx := browserFor(t, 5*time.Minute)
			login(t, bctx, app.URL, l.Email, l.Password)
			checked := 0
			for _, size := range []struct {
				name          string
				width, height int64
			}{{"390", 390, 844}, {"1366", 1366, 768}} {
				if err := chromedp.Do(bctx, chromedp.EmulateViewport(size.width, size.height)); err != nil {
					t.Fatal(err)
				}
				for _, pg := range pages {
					if err := chromedp.Do(bctx, chromedp.Navigate(app.URL+pg.path), chromedp.WaitVisible(chromedp.CSS(`main`))); err != nil {
						t.Fatalf("%s: %v", pg.name, err)
					}
					// the dashboard's widgets load on their own: wait for them all
					if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.querySelector('[aria-busy="true"]') === null`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
						t.Fatalf("%s: widgets still loading: %v", pg.name, err)
					}
					if pg.name == "dashboard" || pg.name == "dashboard-all" {
						checkWidgets(t, bctx, l.Name, pg.name, size.name)
					}
					title, _ := chromedp.Run(bctx, chromedp.Title())
					if strings.HasPrefix(title, "Not found") || strings.HasPrefix(title, "Error") {
						t.Errorf("%s (%s) shows %q", pg.name, pg.path, title)
					}
					problems, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](fitCheck))
					if err != nil {
						t.Fatal(err)
					}
					name := fmt.Sprintf("%s-%s-%s", strings.ToLower(l.Name), pg.name, size.name)
					if png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)); err == nil {
						_ = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
					}
					if pg.name == "dashboard" && size.width == 390 {
						// The phone's menu reaches every page of the workspace
						// and the account, each link on the screen.
						if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#phone-menu summary`)), chromedp.WaitVisible(chromedp.CSS(`#phone-menu nav`))); err != nil {
							t.Fatalf("open the menu: %v", err)
						}
						links, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#phone-menu nav a")].filter(a => { const r = a.getBoundingClientRect(); return r.width > 0 && r.left >= 0 && r.right <= document.documentElement.clientWidth && r.top < window.innerHeight; }).map(a => a.getAttribute("href"))`))
						if err != nil {
							t.Fatal(err)
						}
						got := strings.Join(links, " ")
						for _, want := range []string{"/contacts", "/contacts/new", "/duplicates", "/lists", "/fields", "/import", "/export", pg.path + "/settings", "/shared", "/workspaces/new", "/settings/password", "/system"} {
							if !strings.Contains(got, want) {
								t.Errorf("the phone's menu has no visible link to %s: %v", want, links)
							}
						}
						if png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)); err == nil {
							_ = os.WriteFile(filepath.Join(dir, strings.ToLower(l.Name)+"-menu-390.png"), png, 0o644)
						}
					}
					if pg.name == "contact" {
						// The details are on the page, not only in the edit form.
						details, _ := chromedp.Run(bctx, chromedp.Text(`#details`))
						for _, want := range []string{"Birthday", "Address"} {
							if !strings.Contains(details, want) {
								t.Errorf("the contact page's details at %s px lack %s: %q", size.name, want, details)
							}
						}
					}
					if pg.name == "contacts" && size.width == 390 {
						// Each card shows name, company, stage and phone, and at
						// least 8 fit on a screen.
						tallest, err := chromedp.Run(bctx, chromedp.Evaluate[float64](`Math.max(...[...document.querySelectorAll("#contact-rows tr")].map(r => r.getBoundingClientRect().height))`))
						if err != nil || tallest <= 0 || tallest > float64(size.height)/8 {
							t.Errorf("a contact card is %.0f px tall: fewer than 8 fit on a %d px screen (%v)", tallest, size.height, err)
						}
						text, _ := chromedp.Run(bctx, chromedp.Text(`#contact-rows`))
						wsID := strings.Split(pg.path, "/")[2]
						first, _ := app.Contacts.List(ctx, actor, wsID, contact.Query{Limit: 20})
						for _, r := range first.Rows {
							for _, want := range []string{r.FirstName, r.Company, r.Stage, phone.Format(r.PrimaryPhone, "US")} {
								if !strings.Contains(text, want) {
									t.Errorf("the phone's contact cards do not show %q (of %s %s)", want, r.FirstName, r.LastName)
								}
							}
						}
					}
					if len(problems) > 0 {
						t.Errorf("%s at %s px does not fit: %s", pg.name, size.name, strings.Join(problems, "; "))
					}
					checked++
				}
			}
			t.Logf("%d pages checked at two widths; screenshots in %s", checked/2, dir)
		})
	}
}

// checkWidgets checks the loaded dashboard: its widgets in our users'
// order (approvals only for the approver) and each showing the demo's
// data.
func checkWidgets(t *testing.T, bctx context.Context, user, page, width string) {
	t.Helper()
	order, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#widgets > [data-widget]")].map(s => s.dataset.widget)`))
	if err != nil {
		t.Fatal(err)
	}
	// approvals come first, when some wait for this user
	if len(order) > 0 && order[0] == "approvals" {
		order = order[1:]
	}
	if got, want := strings.Join(order, ","), "attention,todos,contacts,campaigns,insights,calendar,stats"; got != want {
		t.Errorf("%s's %s at %s px: widgets %s, want %s", user, page, width, got, want)
	}
	// each with the demo's data
	for sel, what := range map[string]string{
		"#w-todos [data-todo]": "to-dos", "#w-todos [data-overdue]": "an overdue to-do", "#w-contacts #recent-contacts li": "recent contacts",
		"#w-insights [data-insight]": "insights", "#w-calendar [data-kind]": "calendar items", "#w-attention li, #w-attention p": "attention",
	} {
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll(`+"`"+sel+"`"+`).length`))
		if err != nil || n == 0 {
			t.Errorf("%s's %s at %s px shows no %s (%s): %v", user, page, width, what, sel, err)
		}
	}
	stats, _ := chromedp.Run(bctx, chromedp.Text(`#w-stats dd`))
	if stats == "" || stats == "0" {
		t.Errorf("%s's quick stats are empty", user)
	}
}

type pageRef struct{ name, path string }

// pagesOf lists every page of user name, with the ids their demo data gives.
func pagesOf(t *testing.T, app *apptest.App, actor auth.Actor, name string) []pageRef {
	t.Helper()
	ctx := context.Background()
	main := map[string]string{"Andy": "Loan Factory", "Monalisa": "Coldwell Banker Contacts"}[name]
	ws := workspaceID(t, app, actor.Email, main)
	w := "/w/" + ws
	ids, err := app.Contacts.IDs(ctx, actor, ws, contact.Query{})
	if err != nil || len(ids) == 0 {
		t.Fatalf("no contacts in %s: %v", main, err)
	}
	// The richest contact: the one with the most log entries among the
	// hand-written ones (the newest ids are the showcase's? no: search).
	richest := ids[0]
	page, _ := app.Contacts.List(ctx, actor, ws, contact.Query{Search: map[string]string{"Andy": "Linh Tran", "Monalisa": "Emily"}[name]})
	if len(page.Rows) > 0 {
		richest = page.Rows[0].ID
	}
	groups, _ := app.Contacts.DuplicateGroups(ctx, actor, ws)
	if len(groups) == 0 {
		t.Fatal("no duplicates in the demo")
	}
	dup := groups[0].IDs()
	shared, _ := app.Contacts.SharedWithMe(ctx, actor)
	if len(shared) == 0 {
		t.Fatal("nothing shared in the demo")
	}
	file, err := os.Open(testrig.RepoFile("pkg/csvio/testdata/outlook-details-1252.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	job, err := app.Imports.Upload(ctx, actor, ws, "outlook.csv", file)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := app.Auth.CreateAPIKey(ctx, actor, auth.NewAPIKey{Name: "Zapier", Scopes: []string{"contacts:read"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Contacts.CreateField(ctx, actor, ws, contact.FieldDef{Name: "Loan amount", Type: "number"}, false); err != nil {
		t.Fatal(err)
	}
	tpls, err := app.Templates.List(ctx, actor, ws)
	if err != nil || len(tpls) == 0 {
		t.Fatalf("no demo templates in %s: %v", main, err)
	}
	tpl := tpls[0]
	var buf bytes.Buffer
	_ = png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 300, 200)))
	if _, err := app.Images.Upload(ctx, actor, ws, "photo.png", buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Templates.AddFavorite(ctx, actor, ws, tpl.ID); err != nil {
		t.Fatal(err)
	}
	// The other demo user shares a template with this one.
	users, _ := app.Auth.Users(ctx)
	var sharedTpl string
	for _, o := range users {
		if o.ID == actor.UserID {
			continue
		}
		oa := o.Actor("")
		ows, _ := app.Workspaces.List(ctx, oa)
		ot, err := app.Templates.Create(ctx, oa, ows[0].ID, emailtemplate.Change{Name: "Shared with " + name, Subject: "Hello", BodyHTML: "<p>Hello {{first_name}}</p>"})
		if err != nil {
			t.Fatal(err)
		}
		if err := app.Templates.ShareWith(ctx, oa, ows[0].ID, ot.ID, actor.UserID); err != nil {
			t.Fatal(err)
		}
		sharedTpl = ot.ID
	}
	req, err := app.Drafts.Ask(ctx, actor, ws, "", "", ai.Brief{Goal: "Say hello"})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `UPDATE ai_requests SET status = 'done', result = ? WHERE id = ?`, &sqlitex.ExecOptions{
			Args: []any{fakeai.DraftJSON("A long subject line for a phone screen to wrap", "Preheader", "<p>Hi {{first_name}}, a draft with a long line of text.</p>"), req.ID}})
	}); err != nil {
		t.Fatal(err)
	}
	// The Email page before and after set-up, and the Sending page with a
	// message on it (a long subject, to wrap at 390 px).
	emailBefore := w + "/email" // Monalisa has one workspace: hers is seen before the set-up below
	spaces, _ := app.Workspaces.List(ctx, actor)
	for _, sp := range spaces {
		if sp.ID != ws {
			emailBefore = "/w/" + sp.ID + "/email"
			break
		}
	}
	if _, err := app.Providers.Set(ctx, actor, ws, mailer.Change{Kind: mailer.KindFile, FromName: name, FromEmail: strings.ToLower(name) + "@example.com"}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Compose.Email(ctx, actor, ws, compose.Draft{RequestID: "pages", ContactID: richest,
		Subject: "A long subject line about this month's rates for a phone screen", BodyHTML: "<p>Hi {{first_name}}</p>"}); err != nil && errs.KindOf(err) != errs.Invalid {
		t.Fatal(err)
	}
	// The dashboard's attention list: a reply with a long subject, a text
	// from a number no contact has.
	if err := app.DB.Write(ctx, func(conn *sqlite.Conn) error {
		if _, err := events.Incoming(conn, events.Email{Provider: "google", ID: "pages-" + name, WorkspaceID: ws, From: "someone.with.a.long.address@example-brokerage.com",
			Subject: "Re: A long subject line about this month's rates for a phone screen", Snippet: "Thanks, that works for us. Can we talk tomorrow morning about the refinance?"}); err != nil {
			return err
		}
		_, err := events.Inbound(conn, "SMpages"+name, "+14155550177", "+14155550100", "Hi, is this still available? Saw your sign on Elm Street.", "poll", time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// A campaign of this user's, and one of the other user's waiting for
	// this one's approval.
	camp, err := app.Campaigns.Create(ctx, actor, ws, campaign.Change{Name: "Spring rates for every past client and prospect", TemplateID: tpl.ID, Segment: campaign.Segment{NotWithinDays: 7}})
	if err != nil {
		t.Fatal(err)
	}
	drip, err := app.Campaigns.Create(ctx, actor, ws, campaign.Change{Name: "Welcome series for new leads", Kind: campaign.Drip,
		Steps: []campaign.Step{{TemplateID: tpl.ID}, {Delay: 3 * 24 * time.Hour, TemplateID: tpl.ID}}, Segment: campaign.Segment{StageID: ""}})
	if err != nil {
		t.Fatal(err)
	}
	if settings, _ := app.Workspaces.Get(ctx, actor, ws); !settings.Settings.CampaignsNeedApproval {
		if _, err := app.Campaigns.Launch(ctx, actor, ws, drip.ID); err != nil {
			t.Fatal(err)
		}
	}
	seg, err := app.Campaigns.CreateSegment(ctx, actor, ws, "Warm leads of "+name, campaign.Segment{StaleDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	var toApprove string
	for _, o := range users {
		if o.ID == actor.UserID {
			continue
		}
		oa := o.Actor("")
		ows, _ := app.Workspaces.List(ctx, oa)
		yes := true
		if _, err := app.Workspaces.Update(ctx, oa, ows[0].ID, workspace.Change{CampaignsNeedApproval: &yes, ApproverUserID: &actor.UserID}); err != nil {
			t.Fatal(err)
		}
		otpls, _ := app.Templates.List(ctx, oa, ows[0].ID)
		oc, err := app.Campaigns.Create(ctx, oa, ows[0].ID, campaign.Change{Name: "Open house weekend for " + name, TemplateID: otpls[0].ID})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := app.Campaigns.Submit(ctx, oa, ows[0].ID, oc.ID); err != nil {
			t.Fatal(err)
		}
		toApprove = oc.ID
	}
	// A Google and a Microsoft 365 workspace in the middle of signing in.
	signin := map[string]string{}
	g, ms := fakegoogle.New("cid.apps.googleusercontent.com", "GOCSPX-pages", mailer.GoogleRedirect), fakemicrosoft.New("app-pages")
	t.Cleanup(g.Close)
	t.Cleanup(ms.Close)
	for kind, base := range map[string]string{mailer.KindGoogle: g.URL, mailer.KindMicrosoft: ms.URL} {
		n := "Sign-in " + kind
		sw, err := app.Workspaces.Create(ctx, actor, workspace.Change{Name: &n})
		if err != nil {
			t.Fatal(err)
		}
		ch := mailer.Change{Kind: kind, FromName: name, FromEmail: strings.ToLower(name) + "@" + kind + ".example", Settings: mailer.Settings{ClientID: "app-pages", AuthBase: base, BaseURL: base}}
		if kind == mailer.KindGoogle {
			ch.Settings.ClientID, ch.Secret = "cid.apps.googleusercontent.com", "GOCSPX-pages"
		}
		if _, err := app.Providers.Set(ctx, actor, sw.ID, ch); err != nil {
			t.Fatal(err)
		}
		if _, err := app.Providers.Begin(ctx, actor, sw.ID); err != nil {
			t.Fatal(err)
		}
		signin[kind] = "/w/" + sw.ID + "/email"
	}
	// To-dos, one overdue and about a contact, on the dashboard, the
	// contact's page and their own.
	for _, ch := range []todo.Change{{Title: "Send the rate sheet to the contact with the longest name we have", DueOn: time.Now().AddDate(0, 0, -3).Format(todo.DateLayout), ContactID: ids[0]},
		{Title: "Renew the license"}} {
		if _, err := app.Todos.Create(ctx, actor, ws, ch); err != nil {
			t.Fatal(err)
		}
	}
	return []pageRef{
		{"dashboard", w},
		{"dashboard-all", w + "?scope=all"},
		{"todos", w + "/todos"},
		{"settings-calendar", "/settings/calendar"},
		{"campaigns", w + "/campaigns"},
		{"campaign-new", w + "/campaigns/new"},
		{"campaign", w + "/campaigns/" + camp.ID},
		{"campaign-drip", w + "/campaigns/" + drip.ID},
		{"campaign-edit", w + "/campaigns/" + drip.ID + "/edit"},
		{"segments", w + "/segments"},
		{"segment", w + "/segments/" + seg.ID},
		{"approvals", "/approvals"},
		{"approval", "/approvals/" + toApprove},
		{"email-google-signin", signin[mailer.KindGoogle]},
		{"email-microsoft-signin", signin[mailer.KindMicrosoft]},
		{"email-unset", emailBefore},
		{"email", w + "/email"},
		{"outbox", w + "/outbox"},
		{"contact-email", w + "/contacts/" + richest + "/email"},
		{"contact-text", w + "/contacts/" + richest + "/text"},
		{"texts-new", w + "/texts/new?id=" + richest + "&id=" + ids[len(ids)-1]},
		{"templates", w + "/templates"},
		{"template-new", w + "/templates/new"},
		{"template-edit", w + "/templates/" + tpl.ID},
		{"template-preview", w + "/templates/" + tpl.ID + "/preview"},
		{"template-ai", w + "/templates/ai"},
		{"template-ai-draft", w + "/templates/ai/" + req.ID},
		{"images", w + "/images"},
		{"favorites", "/favorites"},
		{"shared-template", "/shared/templates/" + sharedTpl},
		{"contacts", w + "/contacts"},
		{"contact", w + "/contacts/" + richest},
		{"contact-new", w + "/contacts/new"},
		{"merge", w + "/contacts/" + dup[0] + "/merge?with=" + dup[1]},
		{"duplicates", w + "/duplicates"},
		{"lists", w + "/lists"},
		{"fields", w + "/fields"},
		{"import", w + "/import"},
		{"import-mapping", w + "/import/" + job.ID},
		{"export", w + "/export"},
		{"workspace-settings", w + "/settings"},
		{"workspace-delete", w + "/delete"},
		{"workspace-new", "/workspaces/new"},
		{"shared", "/shared"},
		{"shared-contact", "/shared/" + shared[0].Contact.ID},
		{"settings-password", "/settings/password"},
		{"settings-sessions", "/settings/sessions"},
		{"settings-api-keys", "/settings/api-keys"},
		{"settings-audit", "/settings/audit"},
		{"system", "/system"},
	}
}
