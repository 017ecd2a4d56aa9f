package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pi-crm/pi-crm/internal/testrig"
)

// testCA makes a CA and a server certificate for 127.0.0.1 signed by it, as
// the Ansible tls role does for the Pi, and returns the CA pool, the
// certificate file and the key's PEM.
func testCA(t *testing.T, dir string) (*x509.CertPool, string, []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pi-crm test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "pi-crm.lan"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"pi-crm.lan", "localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dir, "server.crt")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	kb, _ := x509.MarshalECPrivateKey(key)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, certFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// startWebLogged starts crm-web and returns the addresses it logged: the
// app's, and the redirect's when it serves one.
func startWebLogged(t *testing.T, e *env) (app, redirect string) {
	t.Helper()
	p := testrig.Start(t, e.cmd("crm-web"))
	app = p.Await(t, regexp.MustCompile(`addr=(https?://\S+)`), 10*time.Second)[1]
	if m := regexp.MustCompile(`redirect=(http://\S+)`).FindStringSubmatch(p.String()); m != nil {
		redirect = m[1]
	}
	return app, redirect
}

// TestTLSRedirectHSTSAndAllowedNets runs crm-web as the Pi does: HTTPS with
// a certificate from a local CA and the key as a credential, a redirect from
// plain HTTP, HSTS and Secure cookies; and a client outside
// PICRM_ALLOWED_NETS gets 403 from every route, /healthz included.
func TestTLSRedirectHSTSAndAllowedNets(t *testing.T) {
	e := newEnv(t)
	pool, certFile, keyPEM := testCA(t, e.dir)
	creds := t.TempDir()
	os.WriteFile(filepath.Join(creds, "tls-key"), keyPEM, 0o600)
	e.vars = append(e.vars, "PICRM_TLS_CERT="+certFile, "CREDENTIALS_DIRECTORY="+creds, "PICRM_HTTPS_ADDR=127.0.0.1:0")
	e.ctl("", "migrate")
	e.ctl("s3cret-enough-pw\n", "user", "add", "--email", "andy@example.com", "--name", "Andy")
	app, redirect := startWebLogged(t, e)
	if !strings.HasPrefix(app, "https://") || redirect == "" {
		t.Fatalf("crm-web serves %s, redirect %q", app, redirect)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(app + "/login")
	if err != nil {
		t.Fatalf("HTTPS with the local CA trusted: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") != "max-age=31536000" {
		t.Fatalf("HTTPS /login: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	form := url.Values{"email": {"andy@example.com"}, "password": {"s3cret-enough-pw"}}
	req, _ := http.NewRequest(http.MethodPost, app+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if sc := resp.Header.Get("Set-Cookie"); !strings.Contains(sc, "Secure") || !strings.Contains(sc, "HttpOnly") {
		t.Fatalf("session cookie over HTTPS: %q", sc)
	}
	_, httpsPort, _ := net.SplitHostPort(strings.TrimPrefix(app, "https://"))
	resp, err = client.Get(redirect + "/contacts?q=ann")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "https://127.0.0.1:"+httpsPort+"/contacts?q=ann" {
		t.Fatalf("plain HTTP: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A stranger (here: loopback, when only 10.0.0.0/8 is allowed).
	e2 := newEnv(t)
	e2.vars = append(e2.vars, "PICRM_ALLOWED_NETS=10.0.0.0/8,192.168.1.0/24")
	e2.ctl("", "migrate")
	app2, _ := startWebLogged(t, e2)
	for _, p := range []string{"/healthz", "/login", "/api/v1/workspaces", "/metrics"} {
		resp, err := http.Get(app2 + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "home network") {
			t.Fatalf("outsider %s: %d %q", p, resp.StatusCode, b)
		}
	}
	// A bad network is a configuration error that names the variable.
	c := e2.cmd("crm-web")
	c.Env = append(c.Env, "PICRM_ALLOWED_NETS=192.168.1.0/33")
	if out, err := c.CombinedOutput(); err == nil || !strings.Contains(string(out), "PICRM_ALLOWED_NETS") {
		t.Fatalf("bad PICRM_ALLOWED_NETS: %v %s", err, out)
	}
}
