// Package demo seeds a fresh database with the two users of the appliance,
// Andy (a loan officer) and Monalisa (a real-estate agent), and their
// workspaces, so `make run` opens on something real. Passwords are random
// per seeding, never in the source.
package demo

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Login is a seeded user's credentials.
type Login struct {
	Name     string
	Email    string
	Password string
}

type person struct {
	name, email, tz string
	workspaces      []string
}

var people = []person{
	{"Andy", "andy@example.com", "America/Los_Angeles", []string{
		"Loan Factory", "MaiStory", "RateReady Realtors", "Real Estate Open Houses", "AI Consulting", "Family & Friends"}},
	{"Monalisa", "monalisa@example.com", "America/Los_Angeles", []string{"Coldwell Banker Contacts"}},
}

// realEstate are the demo's real-estate business lines, where the AI
// template wizard shows its real-estate starters.
var realEstate = map[string]bool{"Coldwell Banker Contacts": true, "Real Estate Open Houses": true}

// plannedProvider is how each demo workspace is planned to send: Loan
// Factory through Google Workspace, the consulting and marketing lines
// through Mailgun, Family & Friends and Monalisa's through Microsoft 365.
// None is set up (the Email page says so); choosing the file provider there
// makes `make run` send into the data folder.
// needsApproval names the demo's workspaces whose campaigns need approval.
var needsApproval = map[string]bool{"Loan Factory": true}

var plannedProvider = map[string]string{"Loan Factory": "google", "RateReady Realtors": "mailgun", "MaiStory": "mailgun", "AI Consulting": "mailgun",
	"Real Estate Open Houses": "mailgun", "Family & Friends": "microsoft", "Coldwell Banker Contacts": "microsoft"}

// LoginsFile is where Seed keeps the logins, inside the data folder, so
// `make run` can show them again on later starts.
const LoginsFile = "demo-logins.txt"

// Seed creates the demo users and workspaces and returns their logins. It
// fails (changing nothing) if a demo email is already taken.
func Seed(ctx context.Context, users *auth.Store, workspaces *workspace.Store) ([]Login, error) {
	var logins []Login
	for _, p := range people {
		pw := password()
		u, err := users.CreateUser(ctx, auth.NewUser{Email: p.email, Name: p.name, TimeZone: p.tz, Password: pw}, "demo")
		if err != nil {
			return logins, fmt.Errorf("demo user %s: %w", p.email, err)
		}
		actor := u.Actor("local")
		for _, name := range p.workspaces {
			w, err := workspaces.Create(ctx, actor, workspace.Change{Name: &name})
			if err != nil {
				return logins, fmt.Errorf("demo workspace %q: %w", name, err)
			}
			re, planned := realEstate[name], plannedProvider[name]
			if planned == "" {
				planned = "file"
			}
			ch := workspace.Change{RealEstate: &re, EmailProvider: &planned}
			if needsApproval[name] { // the owner is its approver in the demo
				yes := true
				ch.CampaignsNeedApproval, ch.ApproverUserID = &yes, &u.ID
			}
			if _, err := workspaces.Update(ctx, actor, w.ID, ch); err != nil {
				return logins, fmt.Errorf("demo workspace %q: %w", name, err)
			}
		}
		logins = append(logins, Login{Name: p.name, Email: p.email, Password: pw})
	}
	return logins, nil
}

// password returns a random password that is easy to type: five groups of
// four lowercase letters and digits (about 100 bits).
func password() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
	var b [20]byte
	_, _ = rand.Read(b[:])
	var sb strings.Builder
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(alphabet[int(c)%len(alphabet)])
	}
	return sb.String()
}

// Format renders logins as the lines crmctl prints and saves.
func Format(logins []Login) string {
	var sb strings.Builder
	for _, l := range logins {
		fmt.Fprintf(&sb, "%-9s %-22s %s\n", l.Name, l.Email, l.Password)
	}
	return sb.String()
}

// Save writes the logins to dataDir/LoginsFile, readable by the owner only.
func Save(dataDir string, logins []Login) error {
	p := filepath.Join(dataDir, LoginsFile)
	if err := os.WriteFile(p, []byte(Format(logins)), 0o600); err != nil {
		return fmt.Errorf("save demo logins: %w", err)
	}
	return nil
}

// FillWorkspace is the workspace Fill loads.
const FillWorkspace = "Loan Factory"

// Fill generates made-up contacts and log entries in Andy's Loan Factory,
// for demos and benchmarks.
func Fill(ctx context.Context, users *auth.Store, workspaces *workspace.Store, contacts *contact.Store, n, activities int) error {
	u, err := users.UserByEmail(ctx, people[0].email)
	if err != nil {
		return fmt.Errorf("demo fill: %w", err)
	}
	actor := u.Actor("local")
	list, err := workspaces.List(ctx, actor)
	if err != nil {
		return err
	}
	for _, w := range list {
		if w.Name == FillWorkspace {
			return contacts.GenerateDemo(ctx, actor, w.ID, n, activities, 1)
		}
	}
	return fmt.Errorf("demo fill: %s has no %q workspace", u.Email, FillWorkspace)
}
