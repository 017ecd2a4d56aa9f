package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/pi-crm/pi-crm/pkg/backup"
	"github.com/pi-crm/pi-crm/pkg/backup/ledger"
	"github.com/pi-crm/pi-crm/pkg/config"
	"github.com/pi-crm/pi-crm/pkg/daemon"
	"github.com/pi-crm/pi-crm/pkg/jobs"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// backupConfig reads the backup settings and opens the bucket if one is
// configured.
func backupConfig(e *config.Env, common config.Common) (backup.Config, *backup.Bucket, error) {
	cfg := backup.ReadConfig(e, common)
	if err := e.Err(); err != nil {
		return cfg, nil, err
	}
	if cfg.S3 == nil {
		return cfg, nil, nil
	}
	b, err := backup.OpenBucket(*cfg.S3)
	return cfg, b, err
}

// backupSnapshot runs `crmctl backup snapshot`: the nightly timer's job and
// the worker behind the "Backup now" button.
func (a *app) backupSnapshot(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("backup snapshot", flag.ContinueOnError)
	trigger := fs.String("trigger", "cli", "what started the run: timer, manual or cli")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	switch *trigger {
	case "timer", "manual", "cli":
	default:
		return usageError("--trigger: want timer, manual or cli")
	}
	cfg, bucket, err := backupConfig(config.FromOS(), a.cfg)
	if err != nil {
		return err
	}
	runs := a.svc.Backups
	if err := runs.Open(ctx, *trigger); err != nil {
		return err
	}
	log := daemon.NewLogger(a.cfg.LogLevel).With("trigger", *trigger)
	tty := isTerminal(a.stderr)
	var res backup.Result
	ran := false
	kind := backup.NewSnapshotter(cfg, a.db, bucket, log).Kind(runs, func(step string, pct int) {
		if tty {
			fmt.Fprintf(a.stderr, "\r%-40s %3d%%", step, pct)
		}
	}, func(r backup.Result, _ error) { res, ran = r, true })
	_, err = jobs.NewRunner(a.db, log, kind).Drain(ctx, ledger.KindSnapshot)
	if tty {
		fmt.Fprintln(a.stderr)
	}
	if err != nil {
		return fmt.Errorf("backup snapshot: %w", err)
	}
	if !ran {
		fmt.Fprintln(a.stdout, "a snapshot is already running in another process; this one is not needed")
		return nil
	}
	fmt.Fprintf(a.stdout, "snapshot %s: %s (database %s), sha256 %s, in %s\n", res.Name, backup.HumanBytes(res.Size), backup.HumanBytes(res.DBSize), res.SHA256[:16], res.Took.Round(time.Millisecond))
	fmt.Fprintf(a.stdout, "kept %d, removed %d", len(res.Rotation.Kept), len(res.Rotation.Removed))
	if len(res.Rotation.Corrupt) > 0 {
		fmt.Fprintf(a.stdout, ", set aside %d damaged: %v", len(res.Rotation.Corrupt), res.Rotation.Corrupt)
	}
	fmt.Fprintln(a.stdout)
	if res.Uploaded {
		fmt.Fprintf(a.stdout, "uploaded to bucket %s\n", cfg.S3.Bucket)
	}
	if res.CopiedTo != "" {
		fmt.Fprintf(a.stdout, "copied to %s (checksum verified)\n", res.CopiedTo)
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(a.stdout, "warning:", w)
	}
	return nil
}

// restore runs `crmctl restore`. It never opens the database before the
// restore: the file may be missing (a new SD card) or about to be replaced.
func restore(ctx context.Context, args []string, cfg config.Common, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "replica, bucket or file")
	at := fs.String("at", "", "replica only: restore as of this time (RFC 3339, e.g. 2026-11-22T09:30:00Z)")
	name := fs.String("name", "", "bucket only: the snapshot's name (default: the newest)")
	identity := fs.String("identity", "", "age identity file for encrypted snapshots (default: the backup-age-identity credential)")
	stop := fs.Bool("stop", false, "stop the appliance's units first instead of refusing")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	opt := backup.RestoreOptions{From: *from, Name: *name, Stop: *stop}
	switch *from {
	case backup.FromFile:
		if fs.NArg() != 1 {
			return usageError("restore --from file needs the file's path")
		}
		opt.Name = fs.Arg(0)
	case backup.FromReplica, backup.FromBucket:
		if fs.NArg() != 0 {
			return usageError("restore: unexpected argument " + fs.Arg(0))
		}
	default:
		return usageError("restore: --from must be replica, bucket or file")
	}
	if *at != "" {
		if *from != backup.FromReplica {
			return usageError("restore: --at works only with --from replica")
		}
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return usageError("restore: --at " + *at + " is not a time such as 2026-11-22T09:30:00Z")
		}
		opt.At = t
	}
	e := config.FromOS()
	bcfg, bucket, err := backupConfig(e, cfg)
	if err != nil {
		return err
	}
	if *identity != "" {
		if opt.Identities, err = backup.ReadIdentities(*identity); err != nil {
			return err
		}
	} else if p := e.CredentialPath(backup.CredAgeIdentity); p != "" {
		if _, err := os.Stat(p); err == nil {
			if opt.Identities, err = backup.ReadIdentities(p); err != nil {
				return err
			}
		}
	}
	var env []string
	if *from == backup.FromReplica {
		if env, err = backup.LitestreamEnv(bcfg); err != nil {
			return err
		}
	}
	log := daemon.NewLogger(cfg.LogLevel)
	r := backup.NewRestorer(bcfg, bucket, env, log)
	fmt.Fprintf(stderr, "restoring %s from %s...\n", bcfg.DB, *from)
	rep, err := r.Restore(ctx, opt, func(ctx context.Context, db *store.DB) (int, int, error) { return db.Migrate(ctx) })
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if len(rep.Stopped) > 0 {
		fmt.Fprintf(stdout, "stopped: %v\n", rep.Stopped)
	}
	fmt.Fprintf(stdout, "restored %s from %s: %s, integrity ok\n", bcfg.DB, rep.Source, backup.HumanBytes(rep.Bytes))
	if rep.MovedAside != "" {
		fmt.Fprintf(stdout, "the old database is kept at %s\n", rep.MovedAside)
	}
	if rep.SchemaFrom != rep.SchemaTo {
		fmt.Fprintf(stdout, "migrated schema %d -> %d\n", rep.SchemaFrom, rep.SchemaTo)
	}
	fmt.Fprintf(stdout, "%d users, %d contacts, in %s\n", rep.Users, rep.Contacts, rep.Took.Round(time.Millisecond))
	if len(rep.Stopped) > 0 {
		fmt.Fprintln(stdout, "start the appliance again with: sudo systemctl start pi-crm.target")
	}
	return nil
}

// litestream runs `crmctl litestream ARGS...`: litestream with the S3 keys
// from the credentials in its environment, replacing this process so that
// systemd supervises litestream itself.
func litestream(args []string, cfg config.Common) error {
	bcfg := backup.ReadConfig(config.FromOS(), cfg)
	env, err := backup.LitestreamEnv(bcfg)
	if err != nil {
		return err
	}
	bin, err := exec.LookPath(bcfg.Litestream)
	if err != nil {
		return fmt.Errorf("litestream binary: %w", err)
	}
	return syscall.Exec(bin, append([]string{"litestream"}, args...), env) // #nosec G204 -- our own binary and arguments
}

func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	st, err := file.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
