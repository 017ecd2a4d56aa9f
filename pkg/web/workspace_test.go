package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/internal/apptest"
)

func TestWorkspaceForms(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	andy := app.NewUser("Andy")
	ctx := context.Background()

	t.Run("CreateInvalidKeepsInput", func(t *testing.T) {
		resp, body := app.Do(andy.Client, http.MethodPost, "/workspaces", strings.NewReader("name="+url.QueryEscape(strings.Repeat("x", 81))),
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}})
		apptest.Expect(t, resp, body, http.StatusUnprocessableEntity)
		if !strings.Contains(body, "Use at most 80 characters.") || !strings.Contains(body, strings.Repeat("x", 81)) {
			t.Fatalf("the form does not show the error beside the kept input:\n%s", apptest.Trim(body))
		}
	})
	w := andy.Workspace("Loan Factory")
	t.Run("CreateDuplicate", func(t *testing.T) {
		resp, body := app.Do(andy.Client, http.MethodPost, "/workspaces", strings.NewReader("name=loan+factory"),
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}})
		apptest.Expect(t, resp, body, http.StatusConflict)
		if !strings.Contains(body, "already have a workspace") || !strings.Contains(body, `value="loan factory"`) {
			t.Fatalf("duplicate: %s", apptest.Trim(body))
		}
	})
	t.Run("SettingsInvalidKeepsInput", func(t *testing.T) {
		resp, body := app.Do(andy.Client, http.MethodPost, "/w/"+w.ID+"/settings",
			strings.NewReader(url.Values{"time_zone": {"Atlantis/Deep"}, "email_provider": {"file"}, "campaigns_need_approval": {"1"}}.Encode()),
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}})
		apptest.Expect(t, resp, body, http.StatusUnprocessableEntity)
		for _, want := range []string{"Atlantis/Deep", "Choose a time zone", "Choose who approves campaigns"} {
			if !strings.Contains(body, want) {
				t.Errorf("settings error page lacks %q", want)
			}
		}
		got, _ := app.Workspaces.Get(ctx, andy.Actor, w.ID)
		if got.Settings.TimeZone != "America/Los_Angeles" || got.Settings.CampaignsNeedApproval {
			t.Fatalf("rejected settings were saved: %+v", got.Settings)
		}
	})
	t.Run("SettingsSaved", func(t *testing.T) {
		resp := app.PostForm(andy.Client, "/w/"+w.ID+"/settings", url.Values{"time_zone": {"Pacific/Honolulu"}, "email_provider": {"file"}, "campaigns_need_approval": {"1"}, "approver_user_id": {andy.ID}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("status=%d", resp.StatusCode)
		}
		got, _ := app.Workspaces.Get(ctx, andy.Actor, w.ID)
		if got.Settings.TimeZone != "Pacific/Honolulu" || !got.Settings.CampaignsNeedApproval || got.Settings.ApproverUserID != andy.ID {
			t.Fatalf("settings: %+v", got.Settings)
		}
		_, body := app.Do(andy.Client, http.MethodGet, "/w/"+w.ID+"/settings", nil, nil)
		if !strings.Contains(body, "Preferences saved.") {
			t.Fatal("no flash after saving")
		}
	})
	t.Run("Rename", func(t *testing.T) {
		resp := app.PostForm(andy.Client, "/w/"+w.ID+"/rename", url.Values{"name": {"Loan Factory LLC"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("status=%d", resp.StatusCode)
		}
		_, body := app.Do(andy.Client, http.MethodGet, "/w/"+w.ID+"/", nil, nil)
		if !strings.Contains(body, "Loan Factory LLC") {
			t.Fatal("dashboard does not show the new name")
		}
	})
	t.Run("DeleteNeedsTheName", func(t *testing.T) {
		_, body := app.Do(andy.Client, http.MethodGet, "/w/"+w.ID+"/delete", nil, nil)
		if !strings.Contains(body, "You will lose") || !strings.Contains(body, "settings") {
			t.Fatalf("confirmation does not name what is lost:\n%s", apptest.Trim(body))
		}
		resp := app.PostForm(andy.Client, "/w/"+w.ID+"/delete", url.Values{"confirm_name": {"Loan"}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("wrong name: status=%d, want 422", resp.StatusCode)
		}
		if _, err := app.Workspaces.Get(ctx, andy.Actor, w.ID); err != nil {
			t.Fatal("deleted without the right confirmation")
		}
		resp = app.PostForm(andy.Client, "/w/"+w.ID+"/delete", url.Values{"confirm_name": {"Loan Factory LLC"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("status=%d", resp.StatusCode)
		}
		if _, err := app.Workspaces.Get(ctx, andy.Actor, w.ID); err == nil {
			t.Fatal("still there after delete")
		}
	})
	t.Run("EveryMutationAudited", func(t *testing.T) {
		got := auditActions(t, app, andy.ID)
		for _, want := range []string{"user.create", "auth.login", "workspace.create", "workspace.update", "workspace.delete"} {
			if !strings.Contains(got, want+"\n") {
				t.Errorf("audit trail lacks %s:\n%s", want, got)
			}
		}
	})
}

func TestAuditPagePaged(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	andy := app.NewUser("Andy")
	mona := app.NewUser("Monalisa")
	mona.Workspace("Coldwell Banker Contacts")
	for i := range 60 {
		andy.Workspace(fmt.Sprintf("WS %02d", i))
	}
	resp, body := app.Do(andy.Client, http.MethodGet, "/settings/audit", nil, nil)
	apptest.Expect(t, resp, body, http.StatusOK)
	if strings.Contains(body, "Coldwell") || strings.Count(body, "workspace.create") != 50 {
		t.Fatalf("first page: %d workspace.create rows (want a full page of 50), or shows another user's trail", strings.Count(body, "workspace.create"))
	}
	rows := body[strings.Index(body, `id="audit-rows"`):] // past the sidebar's own list
	if i, j := strings.Index(rows, "WS 59"), strings.Index(rows, "WS 58"); i < 0 || j < 0 || i > j {
		t.Fatalf("not newest first: %d %d\n%s", i, j, apptest.Trim(rows))
	}
	i := strings.Index(body, "/settings/audit?before=")
	if i < 0 {
		t.Fatal("no link to older entries")
	}
	next := body[i : i+len("/settings/audit?before=")+36]
	resp, frag := app.Do(andy.Client, http.MethodGet, next, nil, http.Header{"Hx-Request": {"true"}})
	apptest.Expect(t, resp, frag, http.StatusOK)
	if strings.Contains(frag, "<html") || !strings.Contains(frag, "WS 00") || !strings.Contains(frag, "user.create") {
		t.Fatalf("htmx page 2 should be just the older rows:\n%s", apptest.Trim(frag))
	}
}

// TestDashboardCountsContacts: the dashboard's Contacts card shows the
// workspace's own count, not another workspace's, and invites an import
// when it is empty.
func TestDashboardCountsContacts(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	andy := app.NewUser("Andy")
	ws, other := andy.Workspace("Loan Factory"), andy.Workspace("MaiStory")
	for _, n := range []string{"Ann", "Bo", "Cy"} {
		andy.Contact(ws.ID, n, strings.ToLower(n)+"@example.com")
	}
	andy.Contact(other.ID, "Di", "di@example.com")
	stats := func(path string) string {
		body := dashboard(t, app, andy.Client, path)
		card := body[strings.Index(body, `id="contacts-card"`):]
		return card[:strings.Index(card, "</dl>")]
	}
	if card := stats("/w/" + ws.ID + "/"); !strings.Contains(card, `Contacts</dt><dd class="text-2xl font-bold">3</dd>`) || !strings.Contains(card, `New in 30 days</dt><dd class="text-2xl font-bold">3</dd>`) {
		t.Fatalf("Loan Factory's quick stats: %s", card)
	}
	// all of Andy's workspaces: both
	if card := stats("/w/" + ws.ID + "/?scope=all"); !strings.Contains(card, `Contacts</dt><dd class="text-2xl font-bold">4</dd>`) {
		t.Fatalf("all workspaces' quick stats: %s", card)
	}
	empty := andy.Workspace("Empty")
	if body := dashboard(t, app, andy.Client, "/w/"+empty.ID+"/"); !strings.Contains(body, "No contacts yet") || !strings.Contains(body, "/import") {
		t.Fatal("an empty workspace's card does not invite an import")
	}
}
