package ledger

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pi-crm/pi-crm/pkg/logkey"
)

// Starter returns what "Backup now" calls after queueing a run. With a
// trigger file (on the Pi) it writes that file, which crm-snapshot.path
// watches; without one (make run) it runs `crmctl backup snapshot` from
// the caller's own folder, which runs the queued job. Either way the
// snapshot code (S3, age, zstd) stays out of crm-web's memory. A crmctl
// that cannot start fails the queued run, so the page says why.
func Starter(log *slog.Logger, trigger string, runs *Runs) func() {
	if trigger != "" {
		return func() {
			if err := os.WriteFile(trigger, []byte(time.Now().UTC().Format(time.RFC3339Nano)+"\n"), 0o600); err != nil {
				log.Error("backup trigger", logkey.Path, trigger, logkey.Err, err)
			}
		}
	}
	var mu sync.Mutex
	return func() {
		go func() {
			mu.Lock()
			defer mu.Unlock()
			self, err := os.Executable()
			if err == nil {
				cmd := exec.Command(filepath.Join(filepath.Dir(self), "crmctl"), "backup", "snapshot", "--trigger", "manual") // #nosec G204 -- our own binary
				var out []byte
				if out, err = cmd.CombinedOutput(); err != nil {
					err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
				}
			}
			if err != nil {
				log.Error("backup failed", logkey.Err, err)
				if aerr := runs.Abandon(context.Background(), err); aerr != nil {
					log.Error("backup failed", logkey.Err, aerr)
				}
			}
		}()
	}
}
