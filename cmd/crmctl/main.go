// Command crmctl administers a pi-crm appliance: it migrates the database,
// manages users and API keys, and seeds demo data. Secrets come from stdin,
// never from arguments, so they stay out of shell history and ps.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pi-crm/pi-crm/internal/services"
	"github.com/pi-crm/pi-crm/migrations"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/config"
	"github.com/pi-crm/pi-crm/pkg/daemon"
	"github.com/pi-crm/pi-crm/pkg/demo"
	"github.com/pi-crm/pi-crm/pkg/insight"
	"github.com/pi-crm/pi-crm/pkg/secrets"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: crmctl <command> [flags]

commands:
  migrate                                   apply pending schema migrations
  secrets rotate                            seal every stored provider credential again
                                            under the current (first) secret key
  user add --email E --name N [--tz Z]      add a user; password read from stdin
  user passwd --email E                     set a user's password from stdin
  user list                                 list users
  apikey create --user E --scope S [--scope S] [--name N] [--expires 720h]
                                            print a new API key (only the key) on stdout
  demo [--if-empty] [--bare] [--contacts N --activities M]
                                            seed the demo users, their workspaces and
                                            sample contacts (not with --bare); with
                                            --contacts, fill Andy's Loan Factory too
  insights                                  recompute every workspace's insights now
                                            (crm-insights does it hourly)
  backup snapshot [--trigger timer|manual|cli]
                                            take a verified snapshot now: copy, check,
                                            compress, encrypt (age), rotate, upload, copy
                                            to the backup drive
  restore --from replica [--at TIME] [--stop]
  restore --from bucket [--name SNAPSHOT] [--identity FILE] [--stop]
  restore --from file [--identity FILE] [--stop] FILE
                                            restore the database; the old one is moved
                                            aside, never deleted
  import FILE --workspace W [--user E] [--list L] [--tag T]... [--on-duplicate skip|create|merge]
  import --resume JOB                       import contacts from CSV or vCard (.vcf); a killed
                                            import resumes where its last batch ended
  export --workspace W [--user E] [--format csv|vcard] [--columns default|all|k,k] [--bom] [-o FILE]
  export --all DIR [--user E]               emergency export: a zip per user with a README,
                                            every workspace's contacts, log and custom
                                            fields (CSV, JSON), the shares, templates
  import-export ZIP --user E                bring an emergency export back: each of its
                                            workspaces becomes a new one of the user's
  litestream ARGS...                        run litestream with the S3 keys from the
                                            credentials (the litestream unit uses this)
  version                                   print the version and schema version

configuration comes from PICRM_* variables (see README).`

func main() {
	daemon.PrivateFiles()
	// PICRM_CPUPROFILE writes a CPU profile of the command: a developer's
	// aid for a slow import or export, off unless set.
	stopProfile := daemon.CPUProfile()
	defer stopProfile()
	if err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "crmctl:", err)
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(os.Stderr, usage)
			os.Exit(2)
		}
		stopProfile()
		os.Exit(1)
	}
}

type usageError string

// Error returns the usage problem.
func (e usageError) Error() string { return string(e) }

// app is what the commands share.
type app struct {
	cfg    config.Common
	db     *store.DB
	svc    *services.Services
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("no command")
	}
	e := config.FromOS()
	cfg := config.ReadCommon(e)
	cost := e.Int("PICRM_BCRYPT_COST", 11, 4, 15)
	if err := e.Err(); err != nil {
		return err
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stdout, usage)
		return nil
	}
	switch args[0] {
	case "litestream":
		return litestream(args[1:], cfg)
	case "restore":
		return restore(ctx, args[1:], cfg, stdout, stderr)
	}
	db, err := store.Open(cfg.DB, store.Options{PoolSize: 2, Marker: cfg.DataMarker})
	if err != nil {
		return err
	}
	defer db.Close()
	svc := services.New(db, daemon.NewLogger(cfg.LogLevel), services.Options{Auth: auth.Options{BcryptCost: cost}, DataDir: cfg.DataDir, ImportLease: cfg.ImportLease})
	a := &app{cfg: cfg, db: db, svc: svc, stdin: stdin, stdout: stdout, stderr: stderr}
	if args[0] != "migrate" && args[0] != "version" {
		// Every other command needs this build's schema; crmctl is the
		// admin tool, so it brings the database up to date itself.
		if _, _, err := db.Migrate(ctx); err != nil {
			return err
		}
	}
	switch args[0] {
	case "migrate":
		return a.migrate(ctx)
	case "version":
		v, err := db.SchemaVersion(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "crmctl %s, built for schema %d; database %s is at schema %d\n", version, migrations.Version(), cfg.DB, v)
		return nil
	case "user":
		if len(args) < 2 {
			return usageError("user: want add, passwd or list")
		}
		switch args[1] {
		case "add":
			return a.userAdd(ctx, args[2:])
		case "passwd":
			return a.userPasswd(ctx, args[2:])
		case "list":
			return a.userList(ctx)
		}
		return usageError("user: unknown subcommand " + args[1])
	case "apikey":
		if len(args) < 2 || args[1] != "create" {
			return usageError("apikey: want create")
		}
		return a.apikeyCreate(ctx, args[2:])
	case "demo":
		return a.demo(ctx, args[1:])
	case "import":
		return a.importFile(ctx, args[1:])
	case "export":
		return a.exportContacts(ctx, args[1:])
	case "import-export":
		return a.importExport(ctx, args[1:])
	case "secrets":
		if len(args) < 2 || args[1] != "rotate" {
			return usageError("secrets: want rotate")
		}
		return a.secretsRotate(ctx)
	case "insights":
		// what crm-insights does hourly, now (no model: it phrases them on its next run)
		st, err := insight.NewEngine(a.db, nil, nil).Run(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "insights: %d workspaces, %d found, %d new, %d back, %d gone\n", st.Workspaces, st.Found, st.New, st.Back, st.Gone)
		return nil
	case "backup":
		if len(args) < 2 || args[1] != "snapshot" {
			return usageError("backup: want snapshot")
		}
		return a.backupSnapshot(ctx, args[2:])
	}
	return usageError("unknown command " + args[0])
}

func (a *app) migrate(ctx context.Context) error {
	from, to, err := a.db.Migrate(ctx)
	if err != nil {
		return err
	}
	// A development machine (no systemd credentials) gets its secret keys
	// in the data folder, made once; the appliance's come from Ansible.
	if os.Getenv("CREDENTIALS_DIRECTORY") == "" && a.cfg.DataDir != "" {
		if _, err := secrets.LoadFile(filepath.Join(a.cfg.DataDir, secrets.FileName), true); err != nil {
			return err
		}
	}
	if from == to {
		fmt.Fprintf(a.stdout, "schema is up to date at version %d\n", to)
		return nil
	}
	fmt.Fprintf(a.stdout, "migrated schema from version %d to %d\n", from, to)
	return nil
}

// readPassword reads one line from stdin.
func (a *app) readPassword() (string, error) {
	if f, ok := a.stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprint(a.stderr, "password (input is shown; pipe it in to hide it): ")
		}
	}
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on stdin")
	}
	return pw, nil
}

func (a *app) userAdd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	email := fs.String("email", "", "email address (the log-in)")
	name := fs.String("name", "", "display name")
	tz := fs.String("tz", "UTC", "IANA time zone, e.g. America/Los_Angeles")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	pw, err := a.readPassword()
	if err != nil {
		return err
	}
	u, err := a.svc.Auth.CreateUser(ctx, auth.NewUser{Email: *email, Name: *name, TimeZone: *tz, Password: pw}, "crmctl")
	if err != nil {
		return fmt.Errorf("user add: %w", err)
	}
	fmt.Fprintf(a.stdout, "added user %s (%s)\n", u.Email, u.ID)
	return nil
}

func (a *app) userPasswd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("user passwd", flag.ContinueOnError)
	email := fs.String("email", "", "the user's email")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	pw, err := a.readPassword()
	if err != nil {
		return err
	}
	if err := a.svc.Auth.SetPassword(ctx, *email, pw, "crmctl"); err != nil {
		return fmt.Errorf("user passwd %s: %w", *email, err)
	}
	fmt.Fprintf(a.stdout, "password set for %s; their sessions have ended\n", *email)
	return nil
}

func (a *app) userList(ctx context.Context) error {
	users, err := a.svc.Auth.Users(ctx)
	if err != nil {
		return err
	}
	for _, u := range users {
		fmt.Fprintf(a.stdout, "%s\t%s\t%s\t%s\n", u.ID, u.Email, u.Name, u.TimeZone)
	}
	return nil
}

type multiFlag []string

// String joins the values for flag's help text.
func (m *multiFlag) String() string { return strings.Join(*m, ",") }

// Set adds one value; the flag may repeat.
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func (a *app) apikeyCreate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("apikey create", flag.ContinueOnError)
	email := fs.String("user", "", "the owner's email")
	name := fs.String("name", "crmctl", "what the key is for")
	expires := fs.Duration("expires", 0, "lifetime, e.g. 720h; 0 never expires")
	var scopes multiFlag
	fs.Var(&scopes, "scope", "a scope ("+strings.Join(auth.Scopes, ", ")+"); repeat for more")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	u, err := a.svc.Auth.UserByEmail(ctx, *email)
	if err != nil {
		return fmt.Errorf("apikey create: user %q: %w", *email, err)
	}
	in := auth.NewAPIKey{Name: *name, Scopes: scopes}
	if *expires > 0 {
		t := time.Now().Add(*expires).UTC()
		in.ExpiresAt = &t
	}
	actor := u.Actor("local")
	key, _, err := a.svc.Auth.CreateAPIKey(ctx, actor, in)
	if err != nil {
		return fmt.Errorf("apikey create: %w", err)
	}
	fmt.Fprintln(a.stdout, key)
	return nil
}

func (a *app) demo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	ifEmpty := fs.Bool("if-empty", false, "seed only when the database has no users")
	bare := fs.Bool("bare", false, "only the users and their workspaces: no sample contacts")
	contacts := fs.Int("contacts", 0, "also generate this many made-up contacts in Andy's Loan Factory")
	activities := fs.Int("activities", 0, "and this many log entries among them")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if *ifEmpty {
		n, err := a.svc.Auth.CountUsers(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			fmt.Fprintf(a.stderr, "database already has %d users; not seeding\n", n)
			return nil
		}
	}
	logins, err := demo.Seed(ctx, a.svc.Auth, a.svc.Workspaces)
	if err != nil {
		return err
	}
	if err := demo.Save(a.cfg.DataDir, logins); err != nil {
		return err
	}
	if !*bare {
		if err := demo.Showcase(ctx, a.svc.Auth, a.svc.Workspaces, a.svc.Lists, a.svc.Contacts); err != nil {
			return err
		}
		if err := demo.Templates(ctx, a.svc.Auth, a.svc.Workspaces, a.svc.Templates); err != nil {
			return err
		}
		if err := demo.Todos(ctx, a.svc.Auth, a.svc.Workspaces, a.svc.Todos); err != nil {
			return err
		}
	}
	if *contacts > 0 {
		start := time.Now()
		if err := demo.Fill(ctx, a.svc.Auth, a.svc.Workspaces, a.svc.Contacts, *contacts, *activities); err != nil {
			return err
		}
		fmt.Fprintf(a.stderr, "generated %d contacts and %d log entries in %v\n", *contacts, *activities, time.Since(start).Round(time.Millisecond))
	}
	// the dashboard's insights, as crm-insights will keep them
	if _, err := insight.NewEngine(a.svc.DB, nil, nil).Run(ctx); err != nil {
		return err
	}
	fmt.Fprint(a.stdout, demo.Format(logins))
	return nil
}
