package backup

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// Bucket is the off-site S3 bucket (iDrive e2 in production, a local
// S3-compatible server in tests).
type Bucket struct {
	cfg    S3
	client *minio.Client
	sse    encrypt.ServerSide // SSE-C, or nil
}

// OpenBucket connects to the bucket in cfg.
func OpenBucket(cfg S3) (*Bucket, error) {
	caFile := cfg.CAFile
	host := cfg.Endpoint
	secure := !cfg.Insecure
	switch {
	case strings.HasPrefix(host, "https://"):
		host, secure = strings.TrimPrefix(host, "https://"), true
	case strings.HasPrefix(host, "http://"):
		host, secure = strings.TrimPrefix(host, "http://"), false
	}
	opts := &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: secure,
		Region: cfg.Region,
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("bucket CA: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("bucket CA %s holds no PEM certificate", caFile)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		opts.Transport = tr
	}
	client, err := minio.New(host, opts)
	if err != nil {
		return nil, fmt.Errorf("bucket %s at %s: %w", cfg.Bucket, cfg.Endpoint, err)
	}
	b := &Bucket{cfg: cfg, client: client}
	if cfg.SSECKey != "" {
		key, err := decodeSSECKey(cfg.SSECKey)
		if err != nil {
			return nil, err
		}
		if b.sse, err = encrypt.NewSSEC(key); err != nil {
			return nil, fmt.Errorf("SSE-C key: %w", err)
		}
	}
	return b, nil
}

// Object is one stored object.
type Object struct {
	Key  string
	Size int64
}

// SnapshotKey is where a snapshot file's name lives in the bucket.
func (b *Bucket) SnapshotKey(name string) string { return path.Join(b.cfg.Prefix, name) }

// Put uploads the file at p as key, with SSE-C when configured.
func (b *Bucket) Put(ctx context.Context, key, p string) error {
	_, err := b.client.FPutObject(ctx, b.cfg.Bucket, key, p, minio.PutObjectOptions{
		ServerSideEncryption: b.sse, ContentType: "application/octet-stream",
	})
	if err != nil {
		return fmt.Errorf("upload %s: %w", key, err)
	}
	return nil
}

// Get downloads key into w.
func (b *Bucket) Get(ctx context.Context, key string, w io.Writer) error {
	obj, err := b.client.GetObject(ctx, b.cfg.Bucket, key, minio.GetObjectOptions{ServerSideEncryption: b.sse})
	if err != nil {
		return fmt.Errorf("download %s: %w", key, err)
	}
	defer obj.Close()
	if _, err := io.Copy(w, obj); err != nil {
		return fmt.Errorf("download %s: %w", key, err)
	}
	return nil
}

// List returns the objects under prefix, sorted by key.
func (b *Bucket) List(ctx context.Context, prefix string) ([]Object, error) {
	var out []Object
	for o := range b.client.ListObjects(ctx, b.cfg.Bucket, minio.ListObjectsOptions{Prefix: strings.TrimSuffix(prefix, "/") + "/", Recursive: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, o.Err)
		}
		out = append(out, Object{Key: o.Key, Size: o.Size})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete removes key.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := b.client.RemoveObject(ctx, b.cfg.Bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// EnsureBucket creates the bucket when it is missing (first run and tests).
func (b *Bucket) EnsureBucket(ctx context.Context) error {
	ok, err := b.client.BucketExists(ctx, b.cfg.Bucket)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", b.cfg.Bucket, err)
	}
	if ok {
		return nil
	}
	if err := b.client.MakeBucket(ctx, b.cfg.Bucket, minio.MakeBucketOptions{Region: b.cfg.Region}); err != nil {
		return fmt.Errorf("create bucket %s: %w", b.cfg.Bucket, err)
	}
	return nil
}
