package backup

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// OpenBy lists the processes ("crm-web[1234]") that have the database, its
// WAL or its shared-memory file open, by reading /proc. It sees every
// process of the same user, and all of them as root, which is how
// `crmctl restore` runs.
func OpenBy(db string) ([]string, error) {
	targets := map[string]bool{}
	for _, s := range []string{"", "-wal", "-shm"} {
		if p, err := filepath.Abs(db + s); err == nil {
			targets[p] = true
		}
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	self := fmt.Sprint(os.Getpid())
	var out []string
	for _, p := range procs {
		pid := p.Name()
		if pid[0] < '0' || pid[0] > '9' || pid == self {
			continue
		}
		fds, err := os.ReadDir(filepath.Join("/proc", pid, "fd"))
		if err != nil {
			continue // gone, or another user's
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join("/proc", pid, "fd", fd.Name()))
			if err == nil && targets[link] {
				comm, _ := os.ReadFile(filepath.Join("/proc", pid, "comm"))
				out = append(out, fmt.Sprintf("%s[%s]", strings.TrimSpace(string(comm)), pid))
				break
			}
		}
	}
	return out, nil
}

// Systemctl stops the appliance through systemd.
type Systemctl struct{}

// restoreUnits are what a restore stops: the daemons, Litestream and the
// snapshot timer and path, so nothing writes or replicates while the file
// is swapped.
func restoreUnits() []string {
	return []string{"pi-crm.target", "crm-web.socket", "crm-web.service", "crm-sender.service", "crm-insights.service",
		"crm-health.service", "litestream.service", "crm-snapshot.timer", "crm-snapshot.path"}
}

// Stop runs systemctl stop on the appliance's units.
func (Systemctl) Stop(ctx context.Context) ([]string, error) {
	units := restoreUnits()
	out, err := exec.CommandContext(ctx, "systemctl", append([]string{"stop"}, units...)...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("systemctl stop: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return units, nil
}
