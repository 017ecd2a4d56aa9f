package campaign

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/events"
	"github.com/pi-crm/pi-crm/pkg/store"
)

// Segment is who a campaign goes to: the workspace's contacts matching
// every filter given, or the ones picked by hand; evaluated again at send
// time.
type Segment struct {
	StageID string `json:"stage_id,omitempty"` // a stage; "none" for contacts without one
	// StageIDs keeps contacts in any one of these stages ("none" too).
	StageIDs     []string  `json:"stage_ids,omitempty"`
	TagIDs       []string  `json:"tag_ids,omitempty"` // in every one of these tags
	StaleDays    int       `json:"stale_days,omitempty"`
	CreatedSince time.Time `json:"created_since,omitzero"`
	ContactIDs   []string  `json:"contact_ids,omitempty"` // picked by hand: only these
	// Custom keeps contacts whose custom field (by id) has this value.
	Custom map[string]string `json:"custom,omitempty"`
	// NotWithinDays leaves out contacts who got campaign mail in the last
	// N days.
	NotWithinDays int `json:"not_within_days,omitempty"`
}

// MaxPicked is the most contacts a segment picks by hand.
const MaxPicked = 10000

func (g *Segment) check(conn *sqlite.Conn, wsID string, f errs.Fields) error {
	if g.StaleDays < 0 || g.StaleDays > 3650 {
		f.Add("stale_days", "Enter 0 (any) to 3,650 days.")
	}
	if g.NotWithinDays < 0 || g.NotWithinDays > 365 {
		f.Add("not_within_days", "Enter 0 (none) to 365 days.")
	}
	if len(g.ContactIDs) > MaxPicked {
		f.Add("contact_ids", fmt.Sprintf("Pick at most %d contacts; use a list or a tag for more.", MaxPicked))
	}
	for _, id := range append([]string{g.StageID}, g.StageIDs...) {
		if id == "" || id == "none" {
			continue
		}
		ok, err := store.Exists(conn, `SELECT 1 FROM lists WHERE id = ? AND workspace_id = ? AND kind = 'stage'`, id, wsID)
		if err != nil {
			return fmt.Errorf("check stage: %w", err)
		}
		if !ok {
			f.Add("stage_id", "Choose one of this workspace's stages.")
			break
		}
	}
	for fid := range g.Custom {
		ok, err := store.Exists(conn, `SELECT 1 FROM custom_fields WHERE id = ? AND workspace_id = ?`, fid, wsID)
		if err != nil {
			return fmt.Errorf("check field: %w", err)
		}
		if !ok {
			f.Add("custom", "Choose one of this workspace's custom fields.")
			break
		}
	}
	for _, t := range g.TagIDs {
		ok, err := store.Exists(conn, `SELECT 1 FROM lists WHERE id = ? AND workspace_id = ? AND kind = 'tag'`, t, wsID)
		if err != nil {
			return fmt.Errorf("check tag: %w", err)
		}
		if !ok {
			f.Add("tag_ids", "Choose this workspace's tags.")
			break
		}
	}
	return nil
}

// Recipient is one contact a segment names, and why they are left out
// ("" when they get it).
type Recipient struct {
	ContactID string
	Name      string
	Email     string
	Phone     string // primary, E.164
	Excluded  string // why no email goes to them
	// NoText is why no text goes to them ("" when one may).
	NoText string
	// merge is what a template's placeholders read of them, but for the
	// custom values: the names, company, nickname, job title, and Email.
	merge contact.Contact
}

// Reasons a contact is left out.
const (
	WhyDoNotContact = "marked do-not-contact"
	WhyNoEmail      = "no email address"
	WhyUnsubscribed = "unsubscribed"
	WhyBounced      = "their address bounced"
	WhyComplained   = "marked our mail as spam"
	WhyAlready      = "already got this campaign"
	WhyRecent       = "got campaign mail recently"
	WhyNoPhone      = "no phone number"
	WhyTextOptOut   = "opted out of texts"
)

// Recipients evaluates segment g of workspace wsID now, inside the
// caller's transaction: every contact it names, the ones left out with
// why. Only the workspace's own contacts are ever named, picked ids
// included. campaignID (or "") says which campaign "already got" means.
func Recipients(conn *sqlite.Conn, wsID, campaignID string, g Segment, now time.Time) ([]Recipient, error) {
	where, args := contact.FilterWhere(contact.Query{StageID: g.StageID, TagIDs: g.TagIDs, Custom: g.Custom, StaleDays: g.StaleDays}, now)
	where = append([]string{"c.workspace_id = ?"}, where...)
	args = append([]any{wsID}, args...)
	if len(g.StageIDs) > 0 {
		b, _ := json.Marshal(g.StageIDs)
		where = append(where, "(c.stage_id IN (SELECT value FROM json_each(?)) OR c.stage_id IS NULL AND EXISTS (SELECT 1 FROM json_each(?) WHERE value = 'none'))")
		args = append(args, string(b), string(b))
	}
	if !g.CreatedSince.IsZero() {
		where = append(where, "c.created_at >= ?")
		args = append(args, store.FormatTime(g.CreatedSince))
	}
	if len(g.ContactIDs) > 0 {
		where = append(where, "c.id IN (SELECT value FROM json_each(?))")
		b, _ := json.Marshal(g.ContactIDs)
		args = append(args, string(b))
	}
	recent := ""
	if g.NotWithinDays > 0 {
		recent = store.FormatTime(now.AddDate(0, 0, -g.NotWithinDays))
	}
	q := `SELECT c.id, trim(c.first_name || ' ' || c.last_name), c.do_not_contact,
	coalesce((SELECT e.address FROM contact_emails e WHERE e.contact_id = c.id ORDER BY e.is_primary DESC, e.id LIMIT 1), ''),
	coalesce((SELECT group_concat(f.flag) FROM contact_flags f WHERE f.contact_id = c.id AND f.workspace_id = c.workspace_id), ''),
	? <> '' AND EXISTS (SELECT 1 FROM outbox o WHERE o.campaign_id = ? AND o.contact_id = c.id),
	? <> '' AND EXISTS (SELECT 1 FROM outbox o WHERE o.contact_id = c.id AND o.bulk = 1 AND o.created_at >= ? AND o.campaign_id <> ?),
	coalesce((SELECT p.e164 FROM contact_phones p WHERE p.contact_id = c.id ORDER BY p.is_primary DESC, p.id LIMIT 1), ''),
	c.first_name, c.last_name, c.company, c.nickname, c.job_title
FROM contacts c WHERE ` + strings.Join(where, " AND ") + ` ORDER BY c.id`
	args = append([]any{campaignID, campaignID, recent, recent, campaignID}, args...)
	var out []Recipient
	err := sqlitex.Execute(conn, q, &sqlitex.ExecOptions{Args: args, ResultFunc: func(st *sqlite.Stmt) error {
		r := Recipient{ContactID: st.ColumnText(0), Name: st.ColumnText(1), Email: st.ColumnText(3), Phone: st.ColumnText(7)}
		r.merge = contact.Contact{ID: r.ContactID, WorkspaceID: wsID, FirstName: st.ColumnText(8), LastName: st.ColumnText(9), Company: st.ColumnText(10),
			Nickname: st.ColumnText(11), JobTitle: st.ColumnText(12)}
		if r.Email != "" {
			r.merge.Emails = []contact.Email{{Address: r.Email}}
		}
		flags := st.ColumnText(4)
		switch {
		case st.ColumnBool(2):
			r.NoText = WhyDoNotContact
		case strings.Contains(flags, events.FlagSMSOptOut):
			r.NoText = WhyTextOptOut
		case r.Phone == "":
			r.NoText = WhyNoPhone
		}
		switch {
		case st.ColumnBool(2):
			r.Excluded = WhyDoNotContact
		case strings.Contains(flags, events.FlagUnsubscribed):
			r.Excluded = WhyUnsubscribed
		case strings.Contains(flags, events.FlagBounced):
			r.Excluded = WhyBounced
		case strings.Contains(flags, events.FlagComplained):
			r.Excluded = WhyComplained
		case r.Email == "":
			r.Excluded = WhyNoEmail
		case st.ColumnBool(5):
			r.Excluded = WhyAlready
		case st.ColumnBool(6):
			r.Excluded = WhyRecent
		}
		out = append(out, r)
		return nil
	}})
	if err != nil {
		return nil, fmt.Errorf("evaluate segment: %w", err)
	}
	return out, nil
}
