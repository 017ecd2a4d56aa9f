package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/internal/testrig"
)

// TestImageFirstBootConfig validates the Pi's first-boot files with
// cloud-init itself: user-data against cloud-init's schema, network-config
// through cloud-init's own netplan v2 parser; and checks what Ansible relies
// on (the admin user with a key, no passwords, Python).
func TestImageFirstBootConfig(t *testing.T) {
	if _, err := exec.LookPath("cloud-init"); err != nil {
		t.Fatal("cloud-init is missing: install Debian's cloud-init (.ci/run does)")
	}
	ud := testrig.RepoFile("image/user-data")
	out, err := exec.Command("cloud-init", "schema", "--config-file", ud).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Valid cloud-config") {
		t.Fatalf("cloud-init schema: %v\n%s", err, out)
	}
	// cloud-init's own Python, which may not be the first python3 on PATH.
	script := `import sys, yaml
from cloudinit.net.network_state import parse_net_config_data
ns = parse_net_config_data(yaml.safe_load(open(sys.argv[1])))
print(" ".join(sorted(i["name"] for i in ns.iter_interfaces())))`
	out, err = exec.Command("/usr/bin/python3", "-c", script, testrig.RepoFile("image/network-config")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "eth0") {
		t.Fatalf("network-config through cloud-init's parser: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(ud)
	for _, want := range []string{"#cloud-config", "hostname: pi-crm", "ssh_pwauth: false", "disable_root: true", "- name: crmadmin", "ssh_authorized_keys:", "- python3", "PasswordAuthentication no", "PermitRootLogin no"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("user-data lacks %q", want)
		}
	}
	inv, _ := os.ReadFile(testrig.RepoFile("ansible/inventory.example.ini"))
	if !strings.Contains(string(inv), "ansible_user=crmadmin") {
		t.Error("the inventory example does not log in as the user cloud-init makes")
	}
}
