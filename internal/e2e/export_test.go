package e2e

import (
	"archive/zip"
	"encoding/csv"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEmergencyExport runs `crmctl export --all DIR`: one zip per user,
// each holding a README, every workspace's contacts with every column, log
// and custom fields, the shares, and the templates and campaigns as JSON.
// The demo gives Andy 25 generated contacts and 13 hand-written ones (10
// in Loan Factory).
func TestEmergencyExport(t *testing.T) {
	e := newEnv(t)
	e.ctl("", "migrate")
	e.ctl("", "demo", "--contacts", "25", "--activities", "10")
	dir := t.TempDir()
	out := e.ctl("", "export", "--all", dir)
	if !regexp.MustCompile(`andy_at_example\.com-\d{8}-\d{6}\.zip: 38 contacts`).MatchString(out) || !strings.Contains(out, "monalisa_at_example.com") {
		t.Fatalf("export --all said %q", out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "pi-crm-export-andy*.zip"))
	if len(files) != 1 {
		t.Fatalf("zips %v", files)
	}
	z, err := zip.OpenReader(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	got := map[string]string{}
	for _, f := range z.File {
		r, _ := f.Open()
		b, _ := io.ReadAll(r)
		r.Close()
		got[f.Name] = string(b)
	}
	for _, name := range []string{"README.txt", "workspaces/Loan Factory/contacts.csv", "workspaces/Loan Factory/log.csv", "workspaces/MaiStory/contacts.csv",
		"workspaces/MaiStory/custom_fields.json", "shares.json", "templates.json", "campaigns.json", "export.json"} {
		if _, ok := got[name]; !ok {
			t.Fatalf("the zip lacks %s: %v", name, z.File)
		}
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(got["workspaces/Loan Factory/contacts.csv"], "\ufeff"))).ReadAll()
	if err != nil || len(recs) != 36 || recs[0][0] != "pi-crm ID" || recs[0][1] != "First Name" || !strings.Contains(strings.Join(recs[0], ","), "Secondary Emails") {
		t.Fatalf("Loan Factory.csv: %d records, header %v, %v", len(recs), recs[0], err)
	}
	if strings.TrimSpace(got["templates.json"]) != "[]" || !strings.Contains(got["export.json"], `"contacts": 38`) {
		t.Fatalf("json files: %q %q", got["templates.json"], got["export.json"])
	}
	// A wiped appliance (a fresh database with the same users) takes the
	// zip back with every log entry.
	fresh := newEnv(t)
	fresh.ctl("", "migrate")
	fresh.ctl("", "demo", "--bare")
	out = fresh.ctl("", "import-export", files[0], "--user", "andy@example.com")
	m := regexp.MustCompile(`"log_entries": (\d+)`).FindStringSubmatch(got["export.json"])
	if m == nil || !strings.Contains(out, "restored 6 workspaces, 38 contacts and "+m[1]+" log entries") {
		t.Fatalf("import-export said %q; the export holds %v log entries", out, m)
	}
}
