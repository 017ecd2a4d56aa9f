package transfer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"

	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/csvio"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Upload stores the file r (at most MaxUploadBytes and MaxRows), detects
// its format, encoding and delimiter, guesses the column mapping and makes
// a draft job in the actor's workspace wsID.
func (im *Imports) Upload(ctx context.Context, actor auth.Actor, wsID, fileName string, r io.Reader) (Job, error) {
	fields, err := im.contacts.Fields(ctx, actor, wsID) // also checks the workspace is the actor's
	if err != nil {
		return Job{}, err
	}
	fileName = cleanName(fileName)
	if fileName == "" {
		return Job{}, errs.Fields{"file": "Choose a file to import."}.Err()
	}
	if err := os.MkdirAll(im.dir, 0o700); err != nil {
		return Job{}, fmt.Errorf("imports folder: %w", err)
	}
	j := Job{ID: store.NewID(), UserID: actor.UserID, WorkspaceID: wsID, FileName: fileName, Status: Draft,
		Options: Options{OnDuplicate: contact.DupSkip}, CreatedAt: time.Now()}
	j.FilePath = filepath.Join(im.dir, j.ID+".upload")
	f, err := os.OpenFile(j.FilePath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return Job{}, fmt.Errorf("store upload: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(r, MaxUploadBytes+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(j.FilePath)
		return Job{}, fmt.Errorf("store upload: %w", err)
	}
	fail := func(msg string) (Job, error) {
		os.Remove(j.FilePath)
		return Job{}, errs.Fields{"file": msg}.Err()
	}
	if n > MaxUploadBytes {
		os.Remove(j.FilePath)
		return Job{}, ErrTooLarge
	}
	if n == 0 {
		return fail("The file is empty.")
	}
	src, closeSrc, err := im.open(&j, "", nil, true)
	var limit *csvio.LimitError
	if errors.As(err, &limit) {
		return fail(limit.Msg)
	}
	if err != nil {
		if errs.KindOf(err) == errs.Invalid {
			os.Remove(j.FilePath)
			return Job{}, err
		}
		return fail("The file could not be read: " + err.Error())
	}
	total, err := csvio.Count(src)
	closeSrc()
	if errors.As(err, &limit) {
		return fail(limit.Msg)
	}
	if err != nil {
		return fail("The file could not be read: " + err.Error())
	}
	if total == 0 {
		return fail("The file has no rows to import.")
	}
	if total > MaxRows {
		return fail(fmt.Sprintf("The file has %d rows; an import takes at most %d. Split it and import the parts.", total, MaxRows))
	}
	j.Total = total
	if j.Format == "csv" {
		j.Mapping = csvio.Guess(j.Header, fields)
	}
	if err := workspace.Write(ctx, im.db, actor, wsID, func(conn *sqlite.Conn) error {
		if err := im.save(conn, j, true); err != nil {
			return err
		}
		return audit.Record(conn, actor.Audit("contact.import_upload", "import_job", j.ID, map[string]any{
			"workspace_id": wsID, "file": j.FileName, "format": j.Format, "bytes": n, "rows": j.Total}))
	}); err != nil {
		os.Remove(j.FilePath)
		return Job{}, err
	}
	return j, nil
}

// cleanName keeps a file's base name, without control characters.
func cleanName(n string) string {
	n = filepath.Base(strings.ReplaceAll(n, "\\", "/"))
	n = strings.Map(func(r rune) rune {
		if r < 32 || r == 127 {
			return -1
		}
		return r
	}, n)
	if n == "." || n == "/" {
		return ""
	}
	if len(n) > 120 {
		n = n[:120]
	}
	return n
}

// open returns a Source over the job's file. With detect it fills the
// job's format, encoding, delimiter and header first.
func (im *Imports) open(j *Job, region string, fields map[string]contact.FieldDef, detect bool) (csvio.Source, func(), error) {
	f, err := os.Open(j.FilePath)
	if err != nil {
		return nil, nil, fmt.Errorf("open upload: %w", err)
	}
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(512)
	if detect {
		j.Format = "csv"
		ext := strings.ToLower(filepath.Ext(j.FileName))
		if ext == ".vcf" || ext == ".vcard" || csvio.IsVCard(head) {
			j.Format = "vcard"
		}
	}
	if j.Format == "vcard" {
		r := csvio.NewVCardReader(br)
		if detect {
			j.Encoding = "UTF-8"
		}
		return &csvio.VCardSource{R: r, Region: region}, func() { f.Close() }, nil
	}
	r, err := csvio.NewReader(br)
	if err != nil {
		f.Close()
		if errors.Is(err, csvio.ErrEmpty) {
			return nil, nil, errs.Fields{"file": "The file has no header row naming its columns."}.Err()
		}
		return nil, nil, err
	}
	if detect {
		j.Encoding, j.Delimiter, j.Header = r.Encoding, delimName(r.Delimiter), r.Header
	}
	return &csvio.CSVSource{R: r, Mapping: j.Mapping, Region: region, Fields: fields}, func() { f.Close() }, nil
}

func delimName(d rune) string {
	switch d {
	case '\t':
		return "tab"
	case ';':
		return "semicolon"
	case '|':
		return "pipe"
	}
	return "comma"
}

// ErrTooLarge is Upload's answer to a file over MaxUploadBytes.
var ErrTooLarge = &errs.Error{Kind: errs.Invalid, Code: "too_large", Message: fmt.Sprintf("The file is larger than %d MB.", MaxUploadBytes>>20),
	Fields: map[string]string{"file": fmt.Sprintf("The file is larger than %d MB.", MaxUploadBytes>>20)}}
