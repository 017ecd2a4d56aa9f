package web_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pi-crm/pi-crm/internal/apptest"
	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/backup/ledger"
	"github.com/pi-crm/pi-crm/pkg/jobs"
)

// TestBackupNow presses "Backup now": the run is queued with an audit row,
// its progress fragment polls until done, and the snapshot file is there.
func TestBackupNow(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	andy := app.NewUser("Andy")
	andy.Workspace("Loan Factory")
	resp := app.PostForm(andy.Client, "/system/backup", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/system" {
		t.Fatalf("Backup now: %d", resp.StatusCode)
	}
	runs, err := app.Backups.Latest(context.Background(), 1)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %v %v", runs, err)
	}
	id := runs[0].ID
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := app.Do(andy.Client, http.MethodGet, "/system/backup/"+id, nil, http.Header{"Hx-Request": {"true"}})
		if strings.Contains(body, "Backup done") {
			if strings.Contains(body, `hx-trigger="every`) {
				t.Fatal("a finished run's fragment still polls")
			}
			if !regexp.MustCompile(`value="100"`).MatchString(body) {
				t.Fatalf("finished fragment: %s", body)
			}
			break
		}
		if !strings.Contains(body, `hx-trigger="every 1s"`) && !strings.Contains(body, "Backup done") {
			t.Fatalf("a running run's fragment must poll: %s", body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("backup never finished: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	names, _ := filepath.Glob(filepath.Join(app.BackupDir, "pi-crm-*.db.zst"))
	if len(names) != 1 {
		t.Fatalf("snapshot files %v", names)
	}
	if _, err := os.Stat(names[0] + ".sha256"); err != nil {
		t.Fatal(err)
	}
	_, page := app.Do(andy.Client, http.MethodGet, "/system", nil, nil)
	if !strings.Contains(page, "Backup now") || !strings.Contains(page, filepath.Base(names[0])) {
		t.Fatalf("System page lacks the run: %s", apptest.Trim(page))
	}
	p, err := audit.NewStore(app.DB).List(context.Background(), andy.ID, "", 50)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range p.Entries {
		found = found || e.Action == "backup.request"
	}
	if !found {
		t.Fatal("no backup.request audit row")
	}
}

// TestSystemPageSaysWhatIsTrue: with no bucket configured the page does
// not claim changes stream to one, and a snapshot nobody pressed "Backup
// now" for (the nightly timer, the command line) is not announced as
// "Backup done" to whoever opens the page next.
func TestSystemPageSaysWhatIsTrue(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	andy := app.NewUser("Andy")
	ctx := context.Background()
	done := jobs.Kind{Name: ledger.KindSnapshot, Run: func(ctx context.Context, c *jobs.Claim) error {
		if err := app.Backups.Begin(ctx, c); err != nil {
			return err
		}
		return app.Backups.Finish(ctx, c.Ref, ledger.Outcome{File: "pi-crm-20261201.db.zst"}, nil)
	}}
	for _, trigger := range []string{"timer", "cli"} {
		if err := app.Backups.Open(ctx, trigger); err != nil {
			t.Fatal(err)
		}
		if n, err := jobs.NewRunner(app.DB, app.Log, done).Drain(ctx, ledger.KindSnapshot); n != 1 || err != nil {
			t.Fatalf("the %s run: %d ran, %v", trigger, n, err)
		}
	}
	_, body := app.Do(andy.Client, http.MethodGet, "/system", nil, nil)
	if strings.Contains(body, "streams to the bucket") || !strings.Contains(body, "No bucket is configured") {
		t.Fatal("the System page claims a bucket that is not configured")
	}
	if strings.Contains(body, "Backup done") {
		t.Fatal("the System page announces a run nobody pressed Backup now for")
	}
	if !strings.Contains(body, "pi-crm-20261201.db.zst") {
		t.Fatal("the runs are not listed")
	}
}
