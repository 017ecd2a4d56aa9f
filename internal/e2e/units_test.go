package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/internal/s3test"
	"github.com/pi-crm/pi-crm/internal/testrig"
)

// unitRoot builds a throwaway root for systemd-analyze: the host's unit
// library, the appliance's units in /etc/systemd/system and its binaries in
// /usr/bin, as the package installs them.
func unitRoot(t *testing.T) (string, []string) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatal("systemd-analyze is missing: install Debian's systemd package (.ci/run does)")
	}
	root := t.TempDir()
	if out, err := exec.Command("cp", "-a", "/usr/lib/systemd/system", filepath.Join(root, "lib-system")).CombinedOutput(); err != nil {
		t.Fatalf("copy the unit library: %v %s", err, out)
	}
	for _, d := range []string{"usr/lib/systemd", "etc/systemd/system", "usr/bin"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.Rename(filepath.Join(root, "lib-system"), filepath.Join(root, "usr/lib/systemd/system"))
	bins, _ := filepath.Glob(filepath.Join(binDir, "*"))
	bins = append(bins, s3test.Tool(t, "litestream"))
	for _, b := range bins {
		if out, err := exec.Command("cp", b, filepath.Join(root, "usr/bin")).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
	}
	var units []string
	files, _ := filepath.Glob(testrig.RepoFile("units/*"))
	for _, f := range files {
		switch filepath.Ext(f) {
		case ".service", ".socket", ".timer", ".path", ".target":
			b, _ := os.ReadFile(f)
			os.WriteFile(filepath.Join(root, "etc/systemd/system", filepath.Base(f)), b, 0o644)
			units = append(units, "/etc/systemd/system/"+filepath.Base(f))
		}
	}
	return root, units
}

// TestUnitsVerifyAndAreHardened runs systemd-analyze verify on every unit
// and systemd-analyze security --offline on every service, which must rate
// 2.5 or better; and checks each daemon gets only its own credentials.
func TestUnitsVerifyAndAreHardened(t *testing.T) {
	root, units := unitRoot(t)
	if len(units) != 10 {
		t.Fatalf("only %d units: %v", len(units), units)
	}
	out, err := exec.Command("systemd-analyze", append([]string{"verify", "--root=" + root}, units...)...).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	re := regexp.MustCompile(`Overall exposure level for (\S+): ([0-9.]+)`)
	rated := 0
	for _, u := range units {
		if !strings.HasSuffix(u, ".service") {
			continue
		}
		out, err := exec.Command("systemd-analyze", "security", "--offline=yes", "--root="+root, "--threshold=25", u).CombinedOutput()
		m := re.FindStringSubmatch(string(out))
		if err != nil || m == nil {
			t.Errorf("systemd-analyze security %s: %v\n%s", u, err, out)
			continue
		}
		score, _ := strconv.ParseFloat(m[2], 64)
		t.Logf("%s exposure %.1f", m[1], score)
		if score > 2.5 {
			t.Errorf("%s rates %.1f, want 2.5 or better", m[1], score)
		}
		rated++
	}
	if rated != 6 {
		t.Fatalf("rated %d services, want 6", rated)
	}

	// The architecture's table: each process reads only its own secrets.
	want := map[string][]string{
		"crm-web.service":      {"secret-keys", "tls-key", "twilio-webhook-key"},
		"crm-sender.service":   {"secret-keys", "twilio-auth-token"},
		"crm-insights.service": {"ai-key"},
		"crm-health.service":   {"alert-smtp-password", "s3-access-key-id", "s3-secret-access-key"},
		"litestream.service":   {"s3-access-key-id", "s3-secret-access-key", "s3-sse-c-key"},
		"crm-snapshot.service": {"s3-access-key-id", "s3-secret-access-key", "s3-sse-c-key"},
	}
	credRe := regexp.MustCompile(`(?m)^LoadCredential=([^:]+):(\S+)`)
	for name, creds := range want {
		b, err := os.ReadFile(testrig.RepoFile("units/" + name))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range credRe.FindAllStringSubmatch(string(b), -1) {
			got = append(got, m[1])
			if name == "crm-health.service" && strings.HasPrefix(m[1], "s3-") && !strings.Contains(m[2], "readonly") {
				t.Errorf("crm-health must get the read-only bucket key, not %s", m[2])
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, creds) {
			t.Errorf("%s loads %v, want %v", name, got, creds)
		}
		if strings.HasPrefix(name, "crm-") && name != "crm-snapshot.service" {
			for _, line := range []string{"Type=notify", "WatchdogSec=", "Restart=on-failure", "User=pi-crm", "CapabilityBoundingSet=\n", "SystemCallFilter=@system-service", "MemoryMax="} {
				if !strings.Contains(string(b), line) {
					t.Errorf("%s lacks %q", name, line)
				}
			}
		}
		if regexp.MustCompile(`(?i)(password|secret|key)=\S`).MatchString(strings.ReplaceAll(string(b), "LoadCredential=", "")) {
			t.Errorf("%s seems to hold a secret inline", name)
		}
	}
}
