// Package backup keeps the appliance's data safe off the device: it takes
// verified, compressed and (with an age recipient) encrypted snapshots of the
// database, rotates them, copies them to the S3 bucket and to a USB drive or
// NAS folder, and restores from a snapshot, a local file or the Litestream
// replica.
//
// Litestream streams every change to the bucket within about a second; the
// snapshots are the slower, client-side encrypted second line. Both live in
// the same bucket under different prefixes.
package backup

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"filippo.io/age"

	"github.com/pi-crm/pi-crm/pkg/config"
)

// Credential names, as the units' LoadCredential= lines give them.
const (
	CredS3AccessKey   = "s3-access-key-id"     // #nosec G101 -- a file name, not a secret
	CredS3SecretKey   = "s3-secret-access-key" // #nosec G101 -- a file name, not a secret
	CredS3SSECKey     = "s3-sse-c-key"         // base64 of 32 random bytes
	CredAgeIdentity   = "backup-age-identity"  // only for restore; normally kept off the Pi
	DefaultKeep       = 14
	snapshotPrefix    = "pi-crm-"
	snapshotExtPlain  = ".db.zst"
	snapshotExtCrypt  = ".db.zst.age"
	checksumExtension = ".sha256"
)

// S3 says where the bucket is. Keys come from credentials.
type S3 struct {
	Endpoint  string // host[:port] or https://host[:port]
	Region    string
	Bucket    string
	Prefix    string // snapshots go under Prefix + "/"
	Replica   string // Litestream's path in the bucket
	AccessKey string
	SecretKey string
	SSECKey   string // base64 of 32 bytes; "" for none
	Insecure  bool   // plain HTTP, for a bucket on the LAN only
	CAFile    string // extra PEM CA to trust, for a bucket on the LAN
}

// Config is what the snapshot and restore code needs.
type Config struct {
	DB      string // the live database
	Dir     string // local snapshot folder
	Keep    int    // how many good snapshots to keep (7–30)
	CopyDir string // USB drive or NAS mount point; "" for none
	// Recipients encrypt snapshots with age; none means compressed only.
	Recipients []age.Recipient
	// S3 is nil when no bucket is configured.
	S3 *S3
	// Litestream is the litestream binary and LitestreamConfig its config,
	// for restores from the replica.
	Litestream       string
	LitestreamConfig string
}

// ReadConfig reads the PICRM_BACKUP_* and PICRM_S3_* variables and the S3
// credentials. A bucket with a missing key is an error that names it, so a
// half-configured bucket never passes silently.
func ReadConfig(e *config.Env, common config.Common) Config {
	c := Config{
		DB:               common.DB,
		Dir:              e.Path("PICRM_BACKUP_DIR", filepath.Join(common.DataDir, "backups")),
		Keep:             e.Int("PICRM_BACKUP_KEEP", DefaultKeep, 7, 30),
		Litestream:       e.String("PICRM_LITESTREAM_BIN", "litestream"),
		LitestreamConfig: e.String("PICRM_LITESTREAM_CONFIG", "/etc/pi-crm/litestream.yml"),
	}
	if v := e.String("PICRM_BACKUP_COPY_DIR", ""); v != "" {
		c.CopyDir = e.Path("PICRM_BACKUP_COPY_DIR", "")
	}
	if v := e.String("PICRM_BACKUP_AGE_RECIPIENTS", ""); v != "" {
		rs, err := ParseRecipients(v)
		if err != nil {
			e.Fail("PICRM_BACKUP_AGE_RECIPIENTS", "%v", err)
		}
		c.Recipients = rs
	}
	bucket := e.String("PICRM_S3_BUCKET", "")
	if bucket == "" {
		return c
	}
	s := &S3{
		Endpoint: e.String("PICRM_S3_ENDPOINT", ""),
		Region:   e.String("PICRM_S3_REGION", "us-east-1"),
		Bucket:   bucket,
		Prefix:   strings.Trim(e.String("PICRM_S3_SNAPSHOT_PREFIX", "pi-crm/snapshots"), "/"),
		Replica:  strings.Trim(e.String("PICRM_S3_REPLICA_PATH", "pi-crm/replica"), "/"),
		Insecure: e.Bool("PICRM_S3_INSECURE", false),
	}
	if e.String("PICRM_S3_CA_FILE", "") != "" {
		s.CAFile = e.Path("PICRM_S3_CA_FILE", "")
	}
	if s.Endpoint == "" {
		e.Fail("PICRM_S3_ENDPOINT", "is required with PICRM_S3_BUCKET (for iDrive e2, the endpoint shown for the bucket's region)")
	}
	var err error
	if s.AccessKey, err = e.Credential(CredS3AccessKey); err != nil {
		e.Fail("PICRM_S3_BUCKET", "needs the %v", err)
	}
	if s.SecretKey, err = e.Credential(CredS3SecretKey); err != nil {
		e.Fail("PICRM_S3_BUCKET", "needs the %v", err)
	}
	if s.SSECKey, err = e.Credential(CredS3SSECKey); err != nil && !errors.Is(err, config.ErrNoCredential) {
		e.Fail("PICRM_S3_BUCKET", "%v", err)
	}
	c.S3 = s
	return c
}

// ParseRecipients parses age recipients (age1... public keys), separated by
// commas or white space. Public keys are not secrets: the matching identity
// stays with the user, off the Pi.
func ParseRecipients(s string) ([]age.Recipient, error) {
	var out []age.Recipient
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		r, err := age.ParseX25519Recipient(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an age public key (age1...): %w", f, err)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, errors.New("no age public key given")
	}
	return out, nil
}
