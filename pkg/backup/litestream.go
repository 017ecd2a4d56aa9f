package backup

import (
	"errors"
	"os"
	"strings"
)

// LitestreamEnv is the environment litestream runs with: this process's
// environment minus any inherited S3 keys, plus the PICRM_* values the
// config template expands (with their defaults filled in) and the S3 keys
// from the credentials in Litestream's own variables. An environment is
// readable only by the same user and root, unlike a command line.
func LitestreamEnv(cfg Config) ([]string, error) {
	if cfg.S3 == nil {
		return nil, errors.New("no bucket configured: set PICRM_S3_BUCKET and PICRM_S3_ENDPOINT and give the s3 credentials")
	}
	if cfg.S3.SSECKey == "" {
		return nil, errors.New("the replica needs the " + CredS3SSECKey + " credential: Litestream has no client-side encryption, so SSE-C is what keeps the bucket's copy unreadable to the provider")
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "AWS_"), strings.HasPrefix(k, "LITESTREAM_"), strings.HasPrefix(k, "PICRM_S3_"), k == "PICRM_DB":
			continue
		}
		env = append(env, kv)
	}
	endpoint := cfg.S3.Endpoint
	if !strings.Contains(endpoint, "://") {
		endpoint = "https://" + endpoint
		if cfg.S3.Insecure {
			endpoint = "http://" + cfg.S3.Endpoint
		}
	}
	if cfg.S3.CAFile != "" {
		// Go reads extra roots from SSL_CERT_FILE: a bucket on the LAN with
		// its own CA.
		env = append(env, "SSL_CERT_FILE="+cfg.S3.CAFile)
	}
	if os.Getenv("PICRM_LITESTREAM_METRICS_ADDR") == "" {
		env = append(env, "PICRM_LITESTREAM_METRICS_ADDR=127.0.0.1:9105")
	}
	return append(env,
		"PICRM_DB="+cfg.DB,
		"PICRM_S3_ENDPOINT="+endpoint,
		"PICRM_S3_REGION="+cfg.S3.Region,
		"PICRM_S3_BUCKET="+cfg.S3.Bucket,
		"PICRM_S3_REPLICA_PATH="+cfg.S3.Replica,
		"LITESTREAM_ACCESS_KEY_ID="+cfg.S3.AccessKey,
		"LITESTREAM_SECRET_ACCESS_KEY="+cfg.S3.SecretKey,
	), nil
}
