package web_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/csvio"
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
	} else if !strings.Contains(body, "Import 1 row</button>") || strings.Contains(body, "1 rows") {
		t.Fatal("a one-row file's page does not say \"1 row\"")
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

// TestImportShapeLimits: the audit's 2.4 MB CSV of 1.2 million columns is
// refused at upload with a message that says why, and a file at the column
// limit still maps on a page under 1 MB.
func TestImportShapeLimits(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	andy := app.NewUser("Andy")
	ws := andy.Workspace("Loan Factory")
	wide := []byte(strings.Repeat(",", 1_200_000) + "\n" + strings.Repeat("x,", 10) + "\n")
	start := time.Now()
	resp, body := upload(t, app, andy.Client, ws.ID, "wide.csv", wide)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "1200001 columns; an import reads at most 300") {
		t.Fatalf("1.2M columns: status=%d, want 422 naming the column limit: %s", resp.StatusCode, apptest.Trim(body))
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("refusing the wide file took %v", took)
	}
	longCell := []byte("Name,Notes\nAnn," + strings.Repeat("y", 200<<10) + "\n")
	if resp, body := upload(t, app, andy.Client, ws.ID, "long.csv", longCell); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Row 1, column 2 holds 200 KB") {
		t.Fatalf("a 200 KB cell: status=%d: %s", resp.StatusCode, apptest.Trim(body))
	}
	var head, row strings.Builder
	for i := range csvio.MaxColumns {
		fmt.Fprintf(&head, "Column title number %d,", i)
		fmt.Fprintf(&row, "value %d,", i)
	}
	file := []byte("Name,Email," + strings.TrimSuffix(head.String(), ",")[len("Column title number 0,Column title number 1,"):] + "\nAnn Lee,ann@example.com," + strings.TrimSuffix(row.String(), ",")[len("value 0,value 1,"):] + "\n")
	resp, _ = upload(t, app, andy.Client, ws.ID, "at-limit.csv", file)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("300 columns: status=%d, want 303", resp.StatusCode)
	}
	resp, page := app.Do(andy.Client, http.MethodGet, resp.Header.Get("Location"), nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Column title number 299") {
		t.Fatalf("mapping page: status=%d", resp.StatusCode)
	}
	t.Logf("mapping page of 300 columns: %d KB", len(page)>>10)
	if len(page) >= 1<<20 {
		t.Fatalf("the mapping page of 300 columns is %d KB, want under 1 MB", len(page)>>10)
	}
}
