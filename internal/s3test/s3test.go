// Package s3test runs a real S3-compatible server (MinIO, built by `make
// tools` from the version pinned in tools/minio) on loopback with TLS, as
// the off-site bucket's stand-in. TLS matters: SSE-C is refused over plain
// HTTP, as iDrive e2 refuses it.
package s3test

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/pi-crm/pi-crm/internal/testcert"
	"github.com/pi-crm/pi-crm/internal/testrig"
)

// Server is a running S3-compatible server.
type Server struct {
	Endpoint  string // https://127.0.0.1:port
	CAFile    string // PEM to trust
	AccessKey string
	SecretKey string
	Bucket    string
	SSECKey   string // base64 of 32 bytes, for the SSE-C credential
	DataDir   string // where the server keeps its objects
}

// ToolsDir is where `make tools` puts litestream and minio for this host.
func ToolsDir(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("PICRM_TOOLS_DIR"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", ".cache", "tools", runtime.GOOS+"-"+runtime.GOARCH)
}

// Tool returns the path of a tool built by `make tools`, failing the test
// with what to run when it is missing.
func Tool(tb testing.TB, name string) string {
	tb.Helper()
	p := filepath.Join(ToolsDir(tb), name)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("%s is missing (%v): run `make tools` (make test does)", name, err)
	}
	return p
}

// Start runs a server for the test's lifetime with one bucket.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := Tool(tb, "minio")
	dir := tb.TempDir()
	certs := filepath.Join(dir, "certs")
	if err := os.MkdirAll(certs, 0o700); err != nil {
		tb.Fatal(err)
	}
	ca := selfSigned(tb, certs)
	port := testrig.FreePort(tb)
	key := make([]byte, 32)
	rand.Read(key)
	s := &Server{
		Endpoint:  fmt.Sprintf("https://127.0.0.1:%d", port),
		CAFile:    ca,
		AccessKey: "picrmtest",
		SecretKey: "picrm-test-secret-" + base64.RawURLEncoding.EncodeToString(key[:6]),
		Bucket:    "pi-crm-test",
		SSECKey:   base64.StdEncoding.EncodeToString(key),
		DataDir:   filepath.Join(dir, "data"),
	}
	cmd := exec.Command(bin, "server", "--quiet", "--address", fmt.Sprintf("127.0.0.1:%d", port),
		"--console-address", fmt.Sprintf("127.0.0.1:%d", testrig.FreePort(tb)), "--certs-dir", certs, s.DataDir)
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CALLHOME_ENABLE=off")
	log, err := os.Create(filepath.Join(dir, "minio.log"))
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start minio: %v", err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		log.Close()
	})
	pem, _ := os.ReadFile(ca)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get(s.Endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(filepath.Join(dir, "minio.log"))
			tb.Fatalf("minio not ready after 60 s: %v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return s
}

// WriteCredentials writes the S3 credentials into dir, as systemd's
// LoadCredential= would, and returns dir.
func (s *Server) WriteCredentials(tb testing.TB, dir string) string {
	tb.Helper()
	for name, v := range map[string]string{"s3-access-key-id": s.AccessKey, "s3-secret-access-key": s.SecretKey, "s3-sse-c-key": s.SSECKey} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// Env returns the PICRM_S3_* variables that point at this server.
func (s *Server) Env(prefix string) []string {
	return []string{
		"PICRM_S3_ENDPOINT=" + s.Endpoint,
		"PICRM_S3_BUCKET=" + s.Bucket,
		"PICRM_S3_REGION=us-east-1",
		"PICRM_S3_CA_FILE=" + s.CAFile,
		"PICRM_S3_SNAPSHOT_PREFIX=" + prefix + "/snapshots",
		"PICRM_S3_REPLICA_PATH=" + prefix + "/replica",
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 as MinIO's
// public.crt and private.key and returns the certificate's path.
func selfSigned(tb testing.TB, dir string) string {
	tb.Helper()
	c := testcert.New(tb)
	crt := filepath.Join(dir, "public.crt")
	if err := os.WriteFile(crt, c.CertPEM, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "private.key"), c.KeyPEM, 0o600); err != nil {
		tb.Fatal(err)
	}
	return crt
}
