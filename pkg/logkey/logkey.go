// Package logkey names the attribute keys pi-crm's daemons log with, so
// every line says "err" (never "error" in one place and "e" in another)
// and a log search finds them all.
package logkey

// Keys of slog attributes.
const (
	Err    = "err"    // the error
	Job    = "job"    // a job's own row: an import or backup run id
	Kind   = "kind"   // a job's kind (pkg/jobs)
	Check  = "check"  // a health check's name
	Path   = "path"   // a file
	Addr   = "addr"   // a listen or server address
	Detail = "detail" // a free-text detail
	Value  = "value"  // a measured value
)
