package demo

import (
	"context"
	"fmt"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// demoTemplates are the email templates of the demo's workspaces, by
// user and workspace.
var demoTemplates = map[string]map[string][]emailtemplate.Change{
	"andy@example.com": {
		"Loan Factory": {
			{Name: "Rate update", Subject: "Rates moved this week, {{first_name | \"friend\"}}", Preheader: "A two-minute read on what it means for you",
				BodyHTML:  `<p>Hi {{first_name | "there"}},</p><p>Mortgage rates moved this week. If you bought or refinanced in the last few years, it may be worth a fresh look.</p><p><a href="https://example.com/rates" style="display:inline-block;padding:12px 20px;background-color:#4338ca;color:#ffffff;border-radius:6px;text-decoration:none;font-weight:bold">See today's rates</a></p><p>Reply to this email or call me, happy to run the numbers.</p>`,
				Signature: `<p>{{sender.name}}<br>Loan Factory</p>`},
			{Name: "Welcome", Subject: "Welcome aboard, {{first_name}}", BodyHTML: `<p>Hi {{first_name | "there"}},</p><p>Thank you for reaching out. Here is what happens next: a short call, a list of documents, and a pre-approval letter.</p>`,
				Signature: `<p>{{sender.name}}</p>`},
		},
	},
	"monalisa@example.com": {
		"Coldwell Banker Contacts": {
			{Name: "Open house invitation", Subject: "Open house this Sunday, {{first_name | \"neighbor\"}}", Preheader: "Coffee, cookies and a beautiful home",
				BodyHTML:  `<p>Hi {{first_name | "there"}},</p><p>I'm hosting an open house this Sunday from 1 to 4 pm. Stop by to see the home, or just to say hello.</p><ul><li>3 bedrooms, 2 baths</li><li>A big backyard</li></ul>`,
				Signature: `<p>{{sender.name}}<br>Coldwell Banker</p>`},
		},
	},
}

// Templates adds the demo's email templates through the template store.
func Templates(ctx context.Context, users *auth.Store, workspaces *workspace.Store, templates *emailtemplate.Store) error {
	for email, byWS := range demoTemplates {
		u, err := users.UserByEmail(ctx, email)
		if err != nil {
			return fmt.Errorf("demo templates: %w", err)
		}
		actor := u.Actor("local")
		all, err := workspaces.List(ctx, actor)
		if err != nil {
			return err
		}
		for _, ws := range all {
			for _, c := range byWS[ws.Name] {
				if _, err := templates.Create(ctx, actor, ws.ID, c); err != nil {
					return fmt.Errorf("demo template %q: %w", c.Name, err)
				}
			}
		}
	}
	return nil
}
