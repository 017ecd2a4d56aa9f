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
// each holding every workspace as CSV with every column, and the templates
// and campaigns as JSON.
func TestEmergencyExport(t *testing.T) {
	e := newEnv(t)
	e.ctl("", "migrate")
	e.ctl("", "demo", "--contacts", "25", "--activities", "10")
	dir := t.TempDir()
	out := e.ctl("", "export", "--all", dir)
	if !regexp.MustCompile(`andy_at_example\.com-\d{8}-\d{6}\.zip: 25 contacts`).MatchString(out) || !strings.Contains(out, "monalisa_at_example.com") {
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
	for _, name := range []string{"workspaces/Loan Factory.csv", "workspaces/MaiStory.csv", "templates.json", "campaigns.json", "export.json"} {
		if _, ok := got[name]; !ok {
			t.Fatalf("the zip lacks %s: %v", name, z.File)
		}
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(got["workspaces/Loan Factory.csv"], "\ufeff"))).ReadAll()
	if err != nil || len(recs) != 26 || recs[0][0] != "First Name" || !strings.Contains(strings.Join(recs[0], ","), "Secondary Emails") {
		t.Fatalf("Loan Factory.csv: %d records, header %v, %v", len(recs), recs[0], err)
	}
	if strings.TrimSpace(got["templates.json"]) != "[]" || !strings.Contains(got["export.json"], `"contacts": 25`) {
		t.Fatalf("json files: %q %q", got["templates.json"], got["export.json"])
	}
}
