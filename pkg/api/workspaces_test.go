package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/auth"
)

type envelope struct {
	Data  json.RawMessage `json:"data"`
	Error *struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	} `json:"error"`
}

func decodeEnv(t *testing.T, body string) envelope {
	t.Helper()
	var env envelope
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatalf("not an envelope: %v\n%s", err, body)
	}
	return env
}

func TestWorkspacesCRUD(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	andy := app.NewUser("Andy")
	key := andy.APIKey(auth.Scopes...)

	resp, body := app.APIDo(key, http.MethodPost, "/workspaces", `{"name":"Loan Factory","settings":{"time_zone":"America/Chicago","email_provider":"mailgun"}}`)
	apptest.Expect(t, resp, body, http.StatusCreated)
	var ws struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Settings struct {
			TimeZone      string `json:"time_zone"`
			EmailProvider string `json:"email_provider"`
			NeedApproval  bool   `json:"campaigns_need_approval"`
		} `json:"settings"`
	}
	env := decodeEnv(t, body)
	if env.Error != nil || json.Unmarshal(env.Data, &ws) != nil || ws.Name != "Loan Factory" || ws.Settings.TimeZone != "America/Chicago" || ws.Settings.EmailProvider != "mailgun" {
		t.Fatalf("create answered %s", body)
	}
	if got, want := resp.Header.Get("Location"), "/api/v1/workspaces/"+ws.ID; got != want {
		t.Fatalf("Location=%q, want %q", got, want)
	}

	resp, body = app.APIDo(key, http.MethodGet, "/workspaces", "")
	apptest.Expect(t, resp, body, http.StatusOK)
	var list struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
		Next *string `json:"next"`
	}
	if err := json.Unmarshal(decodeEnv(t, body).Data, &list); err != nil || len(list.Items) != 1 || list.Items[0].ID != ws.ID || list.Next == nil || !strings.Contains(body, `"error":null`) {
		t.Fatalf("list: want {items, next} like every list: %s (%v)", body, err)
	}

	resp, body = app.APIDo(key, http.MethodPatch, "/workspaces/"+ws.ID, `{"settings":{"campaigns_need_approval":true,"approver_user_id":"`+andy.ID+`"}}`)
	apptest.Expect(t, resp, body, http.StatusOK)
	if json.Unmarshal(decodeEnv(t, body).Data, &ws) != nil || !ws.Settings.NeedApproval || ws.Name != "Loan Factory" || ws.Settings.TimeZone != "America/Chicago" {
		t.Fatalf("patch should change only what it names: %s", body)
	}

	resp, body = app.APIDo(key, http.MethodDelete, "/workspaces/"+ws.ID, "")
	apptest.Expect(t, resp, body, http.StatusOK)
	resp, body = app.APIDo(key, http.MethodGet, "/workspaces/"+ws.ID, "")
	apptest.Expect(t, resp, body, http.StatusNotFound)

	audit := auditOf(t, app, andy.ID)
	for _, a := range []string{"workspace.create", "workspace.update", "workspace.delete"} {
		if !strings.Contains(audit, a) {
			t.Errorf("audit lacks %s", a)
		}
	}
	if !strings.Contains(audit, "api_key_id") {
		t.Error("API mutations do not name the key in the audit details")
	}
}

func TestWorkspacesBadInput(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	andy := app.NewUser("Andy")
	key := andy.APIKey(auth.Scopes...)
	andy.Workspace("MaiStory")
	for _, tt := range []struct {
		name, body, code string
		status           int
	}{
		{"Empty", ``, "invalid", 422},
		{"NotJSON", `{"name":`, "invalid", 422},
		{"UnknownField", `{"name":"x","colour":"red"}`, "invalid", 422},
		{"WrongType", `{"name":7}`, "invalid", 422},
		{"Trailing", `{"name":"x"} {}`, "invalid", 422},
		{"NoName", `{}`, "invalid", 422},
		{"BadSettings", `{"name":"Half","settings":{"time_zone":"Nowhere/Land"}}`, "invalid", 422},
		{"Duplicate", `{"name":"maistory"}`, "name_taken", 409},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := app.APIDo(key, http.MethodPost, "/workspaces", tt.body)
			apptest.Expect(t, resp, body, tt.status)
			env := decodeEnv(t, body)
			if env.Error == nil || env.Error.Code != tt.code || env.Error.Message == "" || string(env.Data) != "null" {
				t.Fatalf("body %s, want error code %q with a message", body, tt.code)
			}
		})
	}
	list, _ := app.Workspaces.List(context.Background(), andy.Actor)
	if len(list) != 1 {
		t.Fatalf("bad requests left %d workspaces, want 1 (nothing half-made)", len(list))
	}
	resp, body := app.APIDo(key, http.MethodPut, "/workspaces", `{}`)
	apptest.Expect(t, resp, body, http.StatusMethodNotAllowed)
}

func auditOf(t *testing.T, app *apptest.App, userID string) string {
	t.Helper()
	var sb strings.Builder
	p, err := auditStore(app).List(context.Background(), userID, "", 200)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Entries {
		b, _ := json.Marshal(e.Details)
		sb.WriteString(e.Action + " " + string(b) + "\n")
	}
	return sb.String()
}
