package e2e

import (
	"bufio"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pi-crm/pi-crm/internal/testrig"
)

func need(t *testing.T, cmds ...string) {
	t.Helper()
	for _, c := range cmds {
		if _, err := exec.LookPath(c); err != nil {
			t.Fatalf("%s is missing: install Debian's ansible, ansible-lint and debootstrap (.ci/run does)", c)
		}
	}
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	c := exec.Command(name, args...)
	c.Dir = dir
	c.Env = append(os.Environ(), env...)
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestAnsibleLintAndSyntax runs ansible-lint (production profile) and
// ansible-playbook --syntax-check on the playbook.
func TestAnsibleLintAndSyntax(t *testing.T) {
	need(t, "ansible-playbook", "ansible-lint")
	dir := testrig.RepoFile("ansible")
	env := []string{"ANSIBLE_LOCAL_TEMP=" + t.TempDir(), "HOME=" + t.TempDir(), "NO_COLOR=1"}
	out := run(t, dir, env, "ansible-lint", "--offline", "site.yml")
	if !strings.Contains(out, "Passed") {
		t.Fatalf("ansible-lint:\n%s", out)
	}
	run(t, dir, env, "ansible-playbook", "--syntax-check", "-i", "inventory.example.ini", "site.yml")
}

// aptMirror is the Debian mirror this machine's apt uses.
func aptMirror() string {
	f, err := os.Open("/etc/apt/sources.list.d/debian.sources")
	if err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "URIs: "); ok && !strings.Contains(v, "security") {
				return strings.Fields(v)[0]
			}
		}
	}
	return "http://deb.debian.org/debian"
}

var recapRe = regexp.MustCompile(`(?m)^\S+\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)

// TestAnsibleAppliesToAChrootTwice applies the playbook for real to a
// throwaway Debian root made by debootstrap, over Ansible's chroot
// connection, with vaulted secrets; checks what it built; and applies it
// again, which must change nothing. Units are enabled, not started.
func TestAnsibleAppliesToAChrootTwice(t *testing.T) {
	need(t, "ansible-playbook", "ansible-vault", "debootstrap")
	deb := os.Getenv("PICRM_DEB")
	if deb == "" {
		t.Fatal("PICRM_DEB must name the amd64 package (make test builds it with make deb-host)")
	}
	if os.Geteuid() != 0 {
		t.Skip("debootstrap and the chroot connection need root (CI runs as root)")
	}
	tmp := t.TempDir()
	root := filepath.Join(tmp, "pi")
	start := time.Now()
	run(t, tmp, nil, "debootstrap", "--variant=minbase", "--include=python3,systemd,systemd-sysv,ca-certificates,openssl", "bookworm", root, aptMirror())
	t.Logf("debootstrap: %v", time.Since(start).Round(time.Second))
	run(t, tmp, nil, "mount", "-t", "proc", "proc", filepath.Join(root, "proc"))
	t.Cleanup(func() { exec.Command("umount", "-l", filepath.Join(root, "proc")).Run() })

	// Vaulted secrets, as the household keeps them.
	pw := filepath.Join(tmp, "vault-pass")
	os.WriteFile(pw, []byte("drill-vault-password\n"), 0o600)
	vault := filepath.Join(tmp, "vault.yml")
	os.WriteFile(vault, []byte(`vault_s3_access_key_id: "AKIADRILL"
vault_s3_secret_access_key: "drill-secret-key"
vault_s3_readonly_access_key_id: "AKIAREAD"
vault_s3_readonly_secret_access_key: "drill-read-secret"
vault_s3_sse_c_key: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
vault_alert_smtp_password: "drill-smtp"
`), 0o600)
	env := []string{"ANSIBLE_LOCAL_TEMP=" + filepath.Join(tmp, "ansible-tmp"), "HOME=" + tmp, "NO_COLOR=1", "ANSIBLE_FORCE_COLOR=0"}
	run(t, tmp, env, "ansible-vault", "encrypt", "--vault-password-file", pw, vault)
	if b, _ := os.ReadFile(vault); !strings.HasPrefix(string(b), "$ANSIBLE_VAULT") {
		t.Fatal("vault not encrypted")
	}
	inv := filepath.Join(tmp, "inventory.ini")
	os.WriteFile(inv, []byte(fmt.Sprintf("[picrm]\n%s ansible_connection=community.general.chroot ansible_python_interpreter=/usr/bin/python3\n", root)), 0o644)
	args := []string{"-i", inv, "site.yml", "--vault-password-file", pw, "-e", "@" + vault,
		"-e", "pi_crm_deb=" + deb, "-e", "pi_crm_ca_dir=" + filepath.Join(tmp, "ca"),
		"-e", "base_upgrade=false", "-e", "pi_crm_s3_bucket=pi-crm-household", "-e", "pi_crm_s3_endpoint=https://s3.us-west-1.idrivee2.com",
		"-e", "pi_crm_backup_usb_uuid=0b1c2d3e-1111-2222-3333-444455556666", "-e", `{"pi_crm_tls_ips": ["192.168.1.20"]}`,
		// Encryption at rest with the key on a USB stick: on a chroot the
		// role writes the boot configuration (no device to format here).
		"-e", "pi_crm_encryption=usb_key", "-e", "pi_crm_luks_device=/dev/disk/by-id/usb-Drill_Disk-0:0-part1", "-e", "pi_crm_luks_key_uuid=1A2B-3C4D"}
	dir := testrig.RepoFile("ansible")
	first := run(t, dir, env, "ansible-playbook", args...)
	m := recapRe.FindStringSubmatch(first)
	if m == nil || m[4] != "0" || m[2] == "0" {
		t.Fatalf("first run recap %v\n%s", m, first)
	}
	t.Logf("first run: ok=%s changed=%s (%v)", m[1], m[2], time.Since(start).Round(time.Second))

	// What a Pi would now hold.
	in := func(p string) string { return filepath.Join(root, p) }
	for _, p := range []string{"usr/bin/crm-web", "usr/bin/crmctl", "usr/bin/litestream", "usr/lib/systemd/system/crm-web.socket", "etc/pi-crm/litestream.yml",
		"etc/systemd/system/multi-user.target.wants/pi-crm.target", "etc/systemd/journald.conf.d/pi-crm.conf", "etc/apt/apt.conf.d/20auto-upgrades"} {
		if _, err := os.Lstat(in(p)); err != nil {
			t.Errorf("missing /%s: %v", p, err)
		}
	}
	env2, _ := os.ReadFile(in("etc/pi-crm/pi-crm.env"))
	for _, want := range []string{"PICRM_S3_BUCKET=pi-crm-household", "PICRM_BACKUP_COPY_DIR=/mnt/pi-crm-backup", "PICRM_ALLOWED_NETS=127.0.0.0/8,::1/128,192.168.1.0/24",
		"PICRM_DATA_MARKER=/etc/pi-crm/data-marker", "PICRM_BACKUP_DIR=/var/lib/pi-crm/snapshots"} {
		if !strings.Contains(string(env2), want) {
			t.Errorf("pi-crm.env lacks %q:\n%s", want, env2)
		}
	}
	if strings.Contains(string(env2), "drill-secret-key") {
		t.Error("a secret landed in the env file")
	}
	for name, want := range map[string]string{"s3-secret-access-key": "drill-secret-key", "s3-readonly-access-key-id": "AKIAREAD", "alert-smtp-password": "drill-smtp", "ai-key": "unset"} {
		p := in("etc/pi-crm/credentials/" + name)
		b, err := os.ReadFile(p)
		st, _ := os.Stat(p)
		if err != nil || strings.TrimSpace(string(b)) != want || st.Mode().Perm() != 0o600 {
			t.Errorf("credential %s: %q %v", name, b, err)
		}
	}
	if rules, _ := os.ReadFile(in("etc/ufw/user.rules")); !strings.Contains(string(rules), "--dport 443 -s 192.168.1.0/24 -j ACCEPT") {
		t.Errorf("firewall rules:\n%s", rules)
	}
	if fstab, _ := os.ReadFile(in("etc/fstab")); !strings.Contains(string(fstab), "UUID=0b1c2d3e-1111-2222-3333-444455556666 /mnt/pi-crm-backup") {
		t.Errorf("fstab:\n%s", fstab)
	}
	if _, err := os.Stat(in("var/lib/pi-crm/pi-crm.db")); err != nil {
		t.Errorf("the database was not migrated: %v", err)
	}
	// Encryption at rest, failing closed: the volume unlocks at boot with
	// the stick's key file, mounts as the data folder without holding up
	// the boot, every unit but crm-health waits for it, and the marker
	// stops a binary from making an empty database when it is missing.
	if crypttab, _ := os.ReadFile(in("etc/crypttab")); !regexp.MustCompile(`(?m)^pi-crm-data /dev/disk/by-id/usb-Drill_Disk-0:0-part1 /pi-crm.key:UUID=1A2B-3C4D luks,nofail,keyfile-timeout=30s$`).Match(crypttab) {
		t.Errorf("crypttab:\n%s", crypttab)
	}
	if fstab, _ := os.ReadFile(in("etc/fstab")); !strings.Contains(string(fstab), "/dev/mapper/pi-crm-data /var/lib/pi-crm ext4 noatime,nofail,x-systemd.device-timeout=60s 0 2") {
		t.Errorf("fstab lacks the data volume:\n%s", fstab)
	}
	if _, err := os.Stat(in("usr/sbin/cryptsetup")); err != nil {
		t.Errorf("cryptsetup is not installed: %v", err)
	}
	if b, err := os.ReadFile(in("etc/pi-crm/data-marker")); err != nil || !strings.Contains(string(b), "encrypted volume pi-crm-data") {
		t.Errorf("data marker: %q %v", b, err)
	}
	for _, u := range []string{"crm-web", "crm-sender", "crm-insights", "litestream", "crm-snapshot"} {
		if b, _ := os.ReadFile(in("usr/lib/systemd/system/" + u + ".service")); !strings.Contains(string(b), "RequiresMountsFor=/var/lib/pi-crm") {
			t.Errorf("%s.service does not require the data folder's mount", u)
		}
	}
	certPEM, _ := os.ReadFile(in("etc/pi-crm/tls/server.crt"))
	caPEM, _ := os.ReadFile(filepath.Join(tmp, "ca", "ca.crt"))
	if _, err := os.Stat(in("etc/pi-crm/tls/ca.key")); err == nil {
		t.Error("the CA key reached the Pi")
	}
	blk, _ := pem.Decode(certPEM)
	if blk == nil {
		t.Fatal("no server certificate")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	for _, name := range []string{"pi-crm.local", "192.168.1.20"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: name}); err != nil {
			t.Errorf("certificate for %s: %v", name, err)
		}
	}

	second := run(t, dir, env, "ansible-playbook", args...)
	m = recapRe.FindStringSubmatch(second)
	if m == nil || m[2] != "0" || m[4] != "0" {
		t.Fatalf("second run must change nothing: recap %v\n%s", m, second)
	}
	t.Logf("second run: ok=%s changed=0", m[1])
}
