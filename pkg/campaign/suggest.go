package campaign

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// ReengageDays is how long without contact makes a prospect or a lead
// worth a re-engagement campaign.
const ReengageDays = 60

// Reengagement suggests a campaign to the workspace's prospects and leads
// not heard from in Days: how many there are, in which stages.
type Reengagement struct {
	Count  int
	Days   int
	Stages []string // names
	// Query pre-fills the new campaign form with the segment.
	Query string
}

// warmStage reports whether a stage's name says prospects or leads.
func warmStage(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "prospect") || strings.Contains(n, "lead")
}

// Reengage counts the workspace's contacts in a prospect or lead stage
// with no contact for ReengageDays (do-not-contact ones aside): the
// dashboard's suggestion, zero when there are none.
func (s *Store) Reengage(ctx context.Context, actor auth.Actor, wsID string) (Reengagement, error) {
	g := Reengagement{Days: ReengageDays}
	err := workspace.Read(ctx, s.db, actor, wsID, func(conn *sqlite.Conn) error {
		// Nor those a campaign reached in that time: campaign mail is not a
		// personal contact (it leaves last_contact_at alone), but the
		// suggestion must not come back the day after it was acted on.
		q := url.Values{"name": {"Re-engagement"}, "stale_days": {strconv.Itoa(ReengageDays)}, "not_within_days": {strconv.Itoa(ReengageDays)}}
		if err := sqlitex.Execute(conn, `SELECT id, name FROM lists WHERE workspace_id = ? AND kind = 'stage' ORDER BY position, name`, &sqlitex.ExecOptions{Args: []any{wsID},
			ResultFunc: func(st *sqlite.Stmt) error {
				if warmStage(st.ColumnText(1)) {
					q.Add("stage_id", st.ColumnText(0))
					g.Stages = append(g.Stages, st.ColumnText(1))
				}
				return nil
			}}); err != nil {
			return fmt.Errorf("warm stages: %w", err)
		}
		if len(g.Stages) == 0 {
			return nil
		}
		where, args := contact.FilterWhere(contact.Query{StaleDays: ReengageDays}, s.now())
		ids, _ := json.Marshal(q["stage_id"])
		args = append([]any{wsID, string(ids)}, args...)
		where = append(where, "NOT "+outbox.CampaignMailSince)
		args = append(args, store.FormatTime(s.now().AddDate(0, 0, -ReengageDays)))
		sql := `SELECT count(*) FROM contacts c WHERE c.workspace_id = ? AND NOT c.do_not_contact
AND c.stage_id IN (SELECT value FROM json_each(?)) AND ` + strings.Join(where, " AND ")
		g.Query = q.Encode()
		return sqlitex.Execute(conn, sql, &sqlitex.ExecOptions{Args: args, ResultFunc: func(st *sqlite.Stmt) error { g.Count = st.ColumnInt(0); return nil }})
	})
	if err != nil {
		return g, fmt.Errorf("re-engagement: %w", err)
	}
	return g, nil
}
