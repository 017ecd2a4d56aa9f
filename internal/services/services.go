// Package services builds pi-crm's capabilities over one database, once:
// crm-web, crmctl and the tests get the same stores wired the same way
// (the workspace store with the list and contact hooks, the importer on the
// contact store, the ledger of snapshot runs).
package services

import (
	"context"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/pi-crm/pi-crm/pkg/aidraft"
	"github.com/pi-crm/pi-crm/pkg/audit"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/backup/ledger"
	"github.com/pi-crm/pi-crm/pkg/calendar"
	"github.com/pi-crm/pi-crm/pkg/campaign"
	"github.com/pi-crm/pi-crm/pkg/compose"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/images"
	"github.com/pi-crm/pi-crm/pkg/insight"
	"github.com/pi-crm/pi-crm/pkg/jobs"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/phone"
	"github.com/pi-crm/pi-crm/pkg/secrets"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/todo"
	"github.com/pi-crm/pi-crm/pkg/transfer"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Services are the capabilities over one database.
type Services struct {
	Log        *slog.Logger
	DB         *store.DB
	Auth       *auth.Store
	Workspaces *workspace.Store
	Contacts   *contact.Store
	Lists      *list.Store
	Audit      *audit.Store
	// Backups is the ledger of snapshot runs.
	Backups *ledger.Runs
	// Imports and Exports move contacts in and out (CSV, vCard, zip).
	Imports *transfer.Imports
	Exports *transfer.Exports
	// Templates are the workspaces' email templates.
	Templates *emailtemplate.Store
	// Images are the templates' pictures.
	Images *images.Store
	// Drafts are the requests for AI-written templates (crm-insights
	// answers them).
	Drafts *aidraft.Store
	// Providers are the workspaces' email provider settings.
	Providers *mailer.Configs
	// Compose queues the one-off emails users write.
	Compose *compose.Composer
	// Campaigns keeps the workspaces' campaigns.
	Campaigns *campaign.Store
	// Todos are the workspaces' to-dos.
	Todos *todo.Store
	// Calendars are the users' private calendar feeds.
	Calendars *calendar.Feeds
	// Insights are what crm-insights found in the workspaces' data.
	Insights *insight.Store
}

// Options are the settings the capabilities take.
type Options struct {
	Auth auth.Options
	// DataDir holds the import uploads (DataDir/imports).
	DataDir string
	// ImportLease overrides transfer.DefaultLease when set.
	ImportLease time.Duration
	// FetchAllow lets image fetches reach these non-public networks; only
	// tests set it, for an image server on loopback.
	FetchAllow []netip.Prefix
	// Ring seals the provider credentials users save (nil: saving one is
	// refused with the reason).
	Ring *secrets.Ring
}

// New builds the services over db.
func New(db *store.DB, log *slog.Logger, o Options) *Services {
	contacts := contact.NewStore(db, phone.Normalize)
	ws := contact.NewWorkspaces(db)
	imports := transfer.NewImports(db, contacts, filepath.Join(o.DataDir, "imports"), log)
	if o.ImportLease > 0 {
		imports.Lease = o.ImportLease
	}
	s := &Services{Log: log, DB: db, Auth: auth.NewStore(db, o.Auth), Workspaces: ws, Contacts: contacts, Lists: list.NewStore(db),
		Audit: audit.NewStore(db), Backups: ledger.NewRuns(db), Imports: imports, Exports: transfer.NewExports(contacts, ws),
		Templates: emailtemplate.NewStore(db, contacts), Images: images.NewStore(db, &images.Fetcher{Allow: o.FetchAllow}),
		Drafts: aidraft.NewStore(db), Providers: mailer.NewConfigs(db, o.Ring)}
	s.Compose = compose.New(db, s.Templates)
	s.Campaigns = campaign.NewStore(db)
	s.Todos = todo.NewStore(db)
	s.Calendars = calendar.NewFeeds(db)
	s.Insights = insight.NewStore(db)
	return s
}

// WebJobs is the runner of the job kinds crm-web runs: imports (the
// uploads are on its disk). Snapshots run in crmctl, which holds the bucket
// keys crm-web never sees.
func (s *Services) WebJobs() *jobs.Runner {
	return jobs.NewRunner(s.DB, s.Log, s.Imports.Kind())
}

// FindWorkspace finds workspace w (an id or a name) of user (an email;
// "" searches every user, and a name two users share is an error) for the
// admin CLI, with the actor of its owner.
func (s *Services) FindWorkspace(ctx context.Context, w, user string) (auth.Actor, workspace.Workspace, error) {
	users, err := s.Auth.Users(ctx)
	if err != nil {
		return auth.Actor{}, workspace.Workspace{}, err
	}
	var found []struct {
		actor auth.Actor
		ws    workspace.Workspace
	}
	for _, u := range users {
		if user != "" && !strings.EqualFold(u.Email, user) {
			continue
		}
		actor := u.Actor("crmctl")
		spaces, err := s.Workspaces.List(ctx, actor)
		if err != nil {
			return auth.Actor{}, workspace.Workspace{}, err
		}
		for _, ws := range spaces {
			if ws.ID == w || strings.EqualFold(ws.Name, w) {
				found = append(found, struct {
					actor auth.Actor
					ws    workspace.Workspace
				}{actor, ws})
			}
		}
	}
	switch len(found) {
	case 0:
		return auth.Actor{}, workspace.Workspace{}, errs.NotFoundf("no workspace %q%s", w, map[bool]string{true: " of " + user}[user != ""])
	case 1:
		return found[0].actor, found[0].ws, nil
	}
	return auth.Actor{}, workspace.Workspace{}, errs.New(errs.Invalid, "%d users have a workspace %q: say whose with --user", len(found), w)
}
