package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/auth"
)

func TestTemplatesAPI(t *testing.T) {
	app := apptest.New(t, apptest.Options{APIRate: 1000, APIBurst: 1000})
	andy := app.NewUser("Andy")
	lf, mai := andy.Workspace("Loan Factory"), andy.Workspace("MaiStory")
	andy.Contact(lf.ID, "Tom", "tom@example.com")
	key := andy.APIKey(auth.ScopeTemplatesRead, auth.ScopeTemplatesWrite)
	base := "/workspaces/" + lf.ID + "/templates"

	// A bad placeholder: a field error with its position, nothing stored.
	resp, body := app.APIDo(key, http.MethodPost, base, `{"name":"Rates","subject":"Hi","body_html":"<p>{{frist_name}}</p>"}`)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "did you mean {{first_name}}") || !strings.Contains(body, `"body"`) {
		t.Fatalf("bad placeholder: %d %s", resp.StatusCode, body)
	}
	resp, body = app.APIDo(key, http.MethodPost, base, `{"name":"Rates","subject":"Hi {{first_name}}","body_html":"<p onclick=\"x()\">Hello {{first_name | \"there\"}}</p><script>1</script>"}`)
	apptest.Expect(t, resp, body, http.StatusCreated)
	var created struct {
		ID       string `json:"id"`
		BodyHTML string `json:"body_html"`
	}
	if err := json.Unmarshal(decodeEnv(t, body).Data, &created); err != nil || created.ID == "" || strings.Contains(created.BodyHTML, "onclick") || strings.Contains(created.BodyHTML, "script") {
		t.Fatalf("created %s", body)
	}
	resp, body = app.APIDo(key, http.MethodGet, base+"/"+created.ID+"/preview", "")
	apptest.Expect(t, resp, body, http.StatusOK)
	var pv struct {
		Subject string `json:"subject"`
		HTML    string `json:"html"`
		Text    string `json:"text"`
		Bytes   int    `json:"bytes"`
	}
	if err := json.Unmarshal(decodeEnv(t, body).Data, &pv); err != nil || pv.Subject != "Hi Tom" || !strings.Contains(pv.Text, "Hello Tom") || pv.Bytes != len(pv.HTML) {
		t.Fatalf("preview %s", body)
	}
	resp, body = app.APIDo(key, http.MethodPut, base+"/"+created.ID, `{"name":"Rates v2","subject":"Hi","body_html":"<p>v2</p>"}`)
	apptest.Expect(t, resp, body, http.StatusOK)
	resp, body = app.APIDo(key, http.MethodPost, base+"/"+created.ID+"/copy", `{"workspace_id":"`+mai.ID+`"}`)
	apptest.Expect(t, resp, body, http.StatusCreated)
	resp, body = app.APIDo(key, http.MethodGet, "/workspaces/"+mai.ID+"/templates", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"name":"Rates v2"`) {
		t.Fatalf("MaiStory list %s", body)
	}
	resp, body = app.APIDo(key, http.MethodDelete, base+"/"+created.ID, "")
	apptest.Expect(t, resp, body, http.StatusOK)
	resp, body = app.APIDo(key, http.MethodGet, base+"/"+created.ID, "")
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("after delete: %d %s", resp.StatusCode, body)
	}
	// A contacts-only key may not touch templates.
	resp, body = app.APIDo(andy.APIKey(auth.ScopeContactsRead), http.MethodGet, base, "")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "missing_scope") {
		t.Fatalf("contacts key on templates: %d %s", resp.StatusCode, body)
	}
}
