package web_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/list"
)

func upload(t *testing.T, app *apptest.App, c *http.Client, wsID, name string, body []byte) (*http.Response, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(body)
	mw.Close()
	return app.Do(c, http.MethodPost, "/w/"+wsID+"/import", &buf, http.Header{"Content-Type": {mw.FormDataContentType()}, "Sec-Fetch-Site": {"same-origin"}})
}

// TestImportUploadErrorsAndIsolation: a bad upload says what is wrong; an
// import job is its owner's alone.
func TestImportUploadErrorsAndIsolation(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	andy, mona := app.NewUser("Andy"), app.NewUser("Monalisa")
	ws, monaWS := andy.Workspace("Loan Factory"), mona.Workspace("CB")
	for name, tc := range map[string]struct {
		file   string
		body   []byte
		status int
		says   string
	}{
		"empty":     {"a.csv", nil, 422, "The file is empty."},
		"no rows":   {"a.csv", []byte("Name,Email\n"), 422, "no rows"},
		"too big":   {"a.csv", bytes.Repeat([]byte("x"), 20<<20+10), 413, "larger than 20 MB"},
		"no header": {"a.csv", []byte("\n\n\n"), 422, "no header row"},
	} {
		resp, body := upload(t, app, andy.Client, ws.ID, tc.file, tc.body)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d, want %d saying %q: %s", name, resp.StatusCode, tc.status, tc.says, apptest.Trim(body))
		}
	}
	resp, _ := upload(t, app, andy.Client, ws.ID, "people.csv", []byte("Name,Email\nAnn Lee,ann@example.com\n"))
	jobPath := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !regexp.MustCompile(`/import/[0-9a-f-]{36}$`).MatchString(jobPath) {
		t.Fatalf("upload answered %d to %q", resp.StatusCode, jobPath)
	}
	if resp, body := app.Do(andy.Client, http.MethodGet, jobPath, nil, nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Ann Lee") {
		t.Fatalf("Andy's job page: %d", resp.StatusCode)
	}
	// Monalisa cannot see Andy's job, under his workspace or hers.
	for _, p := range []string{jobPath, strings.Replace(jobPath, ws.ID, monaWS.ID, 1), jobPath + "/errors.csv", jobPath + "/progress"} {
		if resp, _ := app.Do(mona.Client, http.MethodGet, p, nil, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("Monalisa GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
	// Nor can Andy reach his own job through Monalisa's workspace.
	if resp, _ := app.Do(andy.Client, http.MethodGet, strings.Replace(jobPath, ws.ID, monaWS.ID, 1), nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("Andy's job under Monalisa's workspace: %d", resp.StatusCode)
	}
}

// TestImportPlanKeepsWhatWasChosen: a mapping the import refuses comes back
// with the choices as the user made them, and the reason.
func TestImportPlanKeepsWhatWasChosen(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	andy, mona := app.NewUser("Andy"), app.NewUser("Monalisa")
	ws, monaWS := andy.Workspace("Loan Factory"), mona.Workspace("CB")
	monaStages, err := app.Lists.All(context.Background(), mona.Actor, monaWS.ID, list.Stage)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := upload(t, app, andy.Client, ws.ID, "people.csv", []byte("Name,Email\nAnn Lee,ann@example.com\n"))
	jobPath := resp.Header.Get("Location")
	// Name becomes Company, Email the second address labelled Home, merge
	// duplicates: and a stage of Monalisa's, which is refused.
	resp, body := app.Do(andy.Client, http.MethodPost, jobPath+"/plan", strings.NewReader(url.Values{
		"col0": {"company"}, "label0": {""}, "col1": {"email:1"}, "label1": {"Home"},
		"on_duplicate": {"merge"}, "stage_id": {monaStages[0].ID}}.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Choose a stage of this workspace.") {
		t.Fatalf("plan answered %d: %s", resp.StatusCode, apptest.Trim(body))
	}
	for _, want := range []string{`<option value="company" selected>`, `<option value="email:1" selected>`, `name="label1" value="Home"`, `value="merge" checked`} {
		if !strings.Contains(body, want) {
			t.Errorf("the refused form lost %s", want)
		}
	}
}
