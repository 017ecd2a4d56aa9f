package main

import (
	"archive/zip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/jobs"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/transfer"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// resolveWorkspace is services.FindWorkspace, with an ambiguous name a
// usage error.
func (a *app) resolveWorkspace(ctx context.Context, w, user string) (auth.Actor, workspace.Workspace, error) {
	actor, ws, err := a.svc.FindWorkspace(ctx, w, user)
	if errs.KindOf(err) == errs.Invalid {
		return actor, ws, usageError(errs.As(err).Message)
	}
	return actor, ws, err
}

// followImport runs import id here, or, while another process (crm-web)
// holds it, follows it until it ends, taking it over if that process's
// lease runs out. A failed import is an error with the reason.
func (a *app) followImport(ctx context.Context, id string) error {
	runner := a.svc.Imports.Runner()
	said := false
	for {
		err := runner.RunOne(ctx, transfer.KindImport, id)
		if !errors.Is(err, jobs.ErrHeld) {
			j, gerr := a.svc.Imports.GetAny(ctx, id)
			switch {
			case gerr != nil:
				return gerr
			case j.Status == transfer.Failed:
				return fmt.Errorf("import %s failed: %s", id, j.Detail)
			case err != nil:
				return fmt.Errorf("import %s stopped: %w; resume it with crmctl import --resume %s", id, err, id)
			}
			return nil
		}
		j, err := a.svc.Imports.GetAny(ctx, id)
		if err != nil {
			return err
		}
		switch j.Status {
		case transfer.Done:
			return nil
		case transfer.Failed:
			return fmt.Errorf("import %s failed: %s", id, j.Detail)
		case transfer.Draft:
			return fmt.Errorf("import %s has not been started: finish its mapping on the import page", id)
		}
		if !said {
			said = true
			fmt.Fprintf(a.stderr, "import %s: another process (crm-web, or a crmctl that died) holds it; following it and taking over if its lease of %s runs out\n", id, a.svc.Imports.Lease)
		}
		if a.svc.Imports.Progress != nil {
			a.svc.Imports.Progress(j)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// importFile runs `crmctl import FILE --workspace W ...` or
// `crmctl import --resume JOB`.
func (a *app) importFile(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	ws := fs.String("workspace", "", "workspace name or id")
	user := fs.String("user", "", "the workspace owner's email, when two users have that name")
	stage := fs.String("list", "", "primary list (stage) for rows that name none")
	var tags multiFlag
	fs.Var(&tags, "tag", "tag for every contact (repeatable; made when missing)")
	dup := fs.String("on-duplicate", "skip", "skip, create or merge rows that match a contact")
	resume := fs.String("resume", "", "resume the import job with this id")
	if err := fs.Parse(reorder(args)); err != nil {
		return usageError(err.Error())
	}
	im := a.svc.Imports
	tty := isTerminal(a.stderr)
	im.Progress = func(j transfer.Job) {
		if tty {
			fmt.Fprintf(a.stderr, "\r%s %3d%%  %d of %d rows", bar(j.Percent()), j.Percent(), j.Next, j.Total)
		}
	}
	var id, wsID string
	var actor auth.Actor
	if *resume != "" {
		id = *resume
	} else {
		if fs.NArg() != 1 || *ws == "" {
			return usageError("import needs a FILE and --workspace")
		}
		action := contact.DupAction(*dup)
		if !action.Valid() {
			return usageError("--on-duplicate: want skip, create or merge")
		}
		var w workspace.Workspace
		var err error
		if actor, w, err = a.resolveWorkspace(ctx, *ws, *user); err != nil {
			return err
		}
		wsID = w.ID
		opt := transfer.Options{OnDuplicate: action}
		lists := a.svc.Lists
		if *stage != "" {
			if opt.StageID, err = lists.Find(ctx, actor, wsID, list.Stage, *stage, false); err != nil {
				return err
			}
		}
		for _, t := range tags {
			id, err := lists.Find(ctx, actor, wsID, list.Tag, t, true)
			if err != nil {
				return err
			}
			opt.TagIDs = append(opt.TagIDs, id)
		}
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			return err
		}
		j, err := im.Upload(ctx, actor, wsID, filepath.Base(fs.Arg(0)), f)
		f.Close()
		if err != nil {
			return err
		}
		if _, err := im.Plan(ctx, actor, wsID, j.ID, j.Mapping, opt); err != nil {
			return err
		}
		if err := im.Start(ctx, actor, wsID, j.ID); err != nil {
			return err
		}
		id = j.ID
		fmt.Fprintf(a.stderr, "import %s: %s, %d rows (%s%s)\n", id, j.FileName, j.Total, j.Encoding, map[bool]string{true: ", " + j.Delimiter + "-separated"}[j.Delimiter != ""])
	}
	start := time.Now()
	err := a.followImport(ctx, id)
	if tty {
		fmt.Fprintln(a.stderr)
	}
	if err != nil {
		return err
	}
	j, err := im.GetAny(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "imported %s in %s: %d created, %d merged, %d skipped as duplicates, %d imported without some values, %d not imported\n",
		j.FileName, time.Since(start).Round(time.Millisecond), j.Created, j.Merged, j.Skipped, j.Warned, j.Failed)
	if j.Failed+j.Warned > 0 {
		report := j.FileName + ".report.csv"
		f, err := os.Create(report)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := im.WriteReport(ctx, auth.JobActor(j.UserID), j.WorkspaceID, j.ID, f); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "report of the rows with problems: %s\n", report)
	}
	return nil
}

// reorder puts flags before positional arguments, so `import FILE --workspace W` parses.
func reorder(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		if strings.HasPrefix(args[i], "-") {
			flags = append(flags, args[i])
			if !strings.Contains(args[i], "=") && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, args[i])
	}
	return append(flags, pos...)
}

func bar(pct int) string {
	n := pct / 5
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", 20-n) + "]"
}

// exportContacts runs `crmctl export`.
func (a *app) exportContacts(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	ws := fs.String("workspace", "", "workspace name or id")
	user := fs.String("user", "", "the owner's email")
	all := fs.String("all", "", "emergency export: write a zip of every workspace (of --user, or of every user) into this folder")
	format := fs.String("format", "csv", "csv or vcard")
	columns := fs.String("columns", "default", "default, all, or column keys separated by commas")
	bom := fs.Bool("bom", false, "start the CSV with a UTF-8 byte-order mark (Excel)")
	out := fs.String("o", "-", "output file; - for standard output")
	if err := fs.Parse(reorder(args)); err != nil {
		return usageError(err.Error())
	}
	contacts := a.svc.Contacts
	x := a.svc.Exports
	if *all != "" {
		return a.exportAll(ctx, x, *all, *user)
	}
	if *ws == "" {
		return usageError("export needs --workspace, or --all DIR")
	}
	actor, w, err := a.resolveWorkspace(ctx, *ws, *user)
	if err != nil {
		return err
	}
	var dst io.Writer = a.stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		dst = f
	}
	start := time.Now()
	var n int
	switch *format {
	case "vcard":
		n, err = x.VCard(ctx, actor, w.ID, nil, dst)
	case "csv":
		var cols []string
		switch *columns {
		case "default":
		case "all":
			fields, err := contacts.Fields(ctx, actor, w.ID)
			if err != nil {
				return err
			}
			cols = transfer.AllColumns(fields)
		default:
			cols = strings.Split(*columns, ",")
		}
		n, err = x.CSV(ctx, actor, w.ID, nil, cols, *bom, zone(actor.TimeZone), dst)
	default:
		return usageError("--format: want csv or vcard")
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "exported %d contacts of %s in %s\n", n, w.Name, time.Since(start).Round(time.Millisecond))
	return nil
}

func (a *app) exportAll(ctx context.Context, x *transfer.Exports, dir, user string) error {
	users, err := a.svc.Auth.Users(ctx)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	done := 0
	for _, u := range users {
		if user != "" && !strings.EqualFold(u.Email, user) {
			continue
		}
		actor := u.Actor("crmctl")
		name := filepath.Join(dir, fmt.Sprintf("pi-crm-export-%s-%s.zip", strings.NewReplacer("@", "_at_", "/", "_").Replace(u.Email), time.Now().Format("20060102-150405")))
		f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		n, err := x.All(ctx, actor, zone(u.TimeZone), f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(name)
			return fmt.Errorf("export %s: %w", u.Email, err)
		}
		fmt.Fprintf(a.stdout, "%s: %d contacts\n", name, n)
		done++
	}
	if done == 0 {
		return fmt.Errorf("no user %q", user)
	}
	return nil
}

func zone(name string) *time.Location {
	if l, err := time.LoadLocation(name); err == nil && name != "" {
		return l
	}
	return time.UTC
}

// importExport runs `crmctl import-export ZIP --user E`.
func (a *app) importExport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("import-export", flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	user := fs.String("user", "", "the email of the user to restore into")
	if err := fs.Parse(reorder(args)); err != nil {
		return usageError(err.Error())
	}
	if fs.NArg() != 1 || *user == "" {
		return usageError("import-export needs the zip and --user")
	}
	u, err := a.svc.Auth.UserByEmail(ctx, *user)
	if err != nil {
		return fmt.Errorf("import-export: %w", err)
	}
	zr, err := zip.OpenReader(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("import-export: %w", err)
	}
	defer zr.Close()
	actor := u.Actor("crmctl")
	start := time.Now()
	res, err := a.svc.Exports.Restore(ctx, actor, &zr.Reader)
	if err != nil {
		return err
	}
	for _, s := range res.Skipped {
		fmt.Fprintln(a.stderr, "skipped:", s)
	}
	fmt.Fprintf(a.stdout, "restored %d workspaces, %d contacts and %d log entries for %s in %s\n",
		res.Workspaces, res.Contacts, res.LogEntries, u.Email, time.Since(start).Round(time.Millisecond))
	return nil
}
