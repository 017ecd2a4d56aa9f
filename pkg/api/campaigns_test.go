package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// TestCampaignsAPI: a campaign made, previewed and submitted with
// campaigns:write; only the designated approver's campaigns:approve key
// approves it (the author's, even with every scope, gets 404); launched,
// its messages are queued.
func TestCampaignsAPI(t *testing.T) {
	app := apptest.New(t, apptest.Options{APIRate: 1000, APIBurst: 1000})
	ctx := context.Background()
	andy, boss := app.NewUser("Andy"), app.NewUser("Boss")
	lf := andy.Workspace("Loan Factory")
	yes, none := true, ""
	if _, err := app.Workspaces.Update(ctx, andy.Actor, lf.ID, workspace.Change{CampaignsNeedApproval: &yes, ApproverUserID: &boss.Actor.UserID, QuietStart: &none, QuietEnd: &none}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Providers.Set(ctx, andy.Actor, lf.ID, mailer.Change{Kind: mailer.KindFile, FromEmail: "andy@lf.example"}); err != nil {
		t.Fatal(err)
	}
	tpl, err := app.Templates.Create(ctx, andy.Actor, lf.ID, emailtemplate.Change{Name: "Promo", Subject: "Hi {{first_name}}", BodyHTML: "<p>Rates</p>"})
	if err != nil {
		t.Fatal(err)
	}
	andy.Contact(lf.ID, "Tom", "tom@example.com")
	andy.Contact(lf.ID, "Ann", "ann@example.com")
	author, all := andy.APIKey(auth.ScopeCampaignsRead, auth.ScopeCampaignsWrite), andy.APIKey(auth.Scopes...)
	approver := boss.APIKey(auth.ScopeCampaignsApprove)
	base := "/workspaces/" + lf.ID + "/campaigns"

	resp, body := app.APIDo(author, http.MethodPost, base, `{"name":"","template_id":"nope"}`)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `"template_id"`) || !strings.Contains(body, `"name"`) {
		t.Fatalf("a bad campaign: %d %s", resp.StatusCode, body)
	}
	resp, body = app.APIDo(author, http.MethodPost, base, `{"name":"Spring","template_id":"`+tpl.ID+`"}`)
	apptest.Expect(t, resp, body, http.StatusCreated)
	var c struct {
		Data struct {
			ID      string `json:"id"`
			Status  string `json:"status"`
			Version int    `json:"version"`
		} `json:"data"`
	}
	_ = json.Unmarshal([]byte(body), &c)
	id := c.Data.ID
	_, body = app.APIDo(author, http.MethodGet, base+"/"+id+"/recipients", "")
	if strings.Count(body, `"contact_id"`) != 2 {
		t.Fatalf("recipients: %s", body)
	}
	if resp, body := app.APIDo(author, http.MethodPost, base+"/"+id+"/launch", ""); resp.StatusCode != http.StatusConflict {
		t.Fatalf("launch before approval: %d %s", resp.StatusCode, body)
	}
	resp, body = app.APIDo(author, http.MethodPost, base+"/"+id+"/submit", "")
	apptest.Expect(t, resp, body, http.StatusOK)
	v := `{"version":` + strconv.Itoa(c.Data.Version) + `,"notes":"ok"}`
	if resp, body := app.APIDo(all, http.MethodPost, "/approvals/"+id+"/approve", v); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the author approving: %d %s", resp.StatusCode, body)
	}
	if resp, _ := app.APIDo(boss.APIKey(auth.ScopeCampaignsRead), http.MethodPost, "/approvals/"+id+"/approve", v); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the approver without campaigns:approve: %d", resp.StatusCode)
	}
	_, body = app.APIDo(approver, http.MethodGet, "/approvals", "")
	if !strings.Contains(body, id) {
		t.Fatalf("the approver's queue: %s", body)
	}
	resp, body = app.APIDo(approver, http.MethodPost, "/approvals/"+id+"/approve", v)
	apptest.Expect(t, resp, body, http.StatusOK)
	resp, body = app.APIDo(author, http.MethodPost, base+"/"+id+"/launch", "")
	apptest.Expect(t, resp, body, http.StatusOK)
	if !strings.Contains(body, `"enqueued":2`) {
		t.Fatalf("launch: %s", body)
	}
}
