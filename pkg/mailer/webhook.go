package mailer

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/mailgun/mailgun-go/v5/events"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/pkg/errs"
	pevents "github.com/pi-crm/pi-crm/pkg/events"
)

// WebhookWindow is how far a webhook's timestamp may be from now.
const WebhookWindow = 5 * time.Minute

var errHook = errs.New(errs.Unauthorized, "The webhook's signature does not verify.")

// VerifyMailgun checks a Mailgun webhook signature: the hex HMAC-SHA256 of
// timestamp and token under the signing key, a timestamp within
// WebhookWindow of now. (A replayed token is refused by the caller, which
// remembers them.)
func VerifyMailgun(key, timestamp, token, signature string, now time.Time) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || key == "" || token == "" {
		return errHook
	}
	if d := now.Sub(time.Unix(ts, 0)); d > WebhookWindow || d < -WebhookWindow {
		return errHook
	}
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(timestamp + token))
	want := hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return errHook
	}
	return nil
}

// MailgunHook records the event a Mailgun webhook posted for workspace
// wsID, once: NotFound when the workspace has no Mailgun webhook key (as
// for one that does not exist), Unauthorized for a bad, stale or replayed
// signature, Invalid for a body that is not an event.
func (c *Configs) MailgunHook(ctx context.Context, wsID string, body []byte, now time.Time) error {
	var in struct {
		Signature struct {
			Timestamp string `json:"timestamp"`
			Token     string `json:"token"`
			Signature string `json:"signature"`
		} `json:"signature"`
		EventData json.RawMessage `json:"event-data"`
	}
	return c.db.Write(ctx, func(conn *sqlite.Conn) error {
		var kind, sealed string
		if err := sqlitex.Execute(conn, `SELECT kind, webhook_secret FROM email_providers WHERE workspace_id = ?`, &sqlitex.ExecOptions{Args: []any{wsID},
			ResultFunc: func(st *sqlite.Stmt) error { kind, sealed = st.ColumnText(0), st.ColumnText(1); return nil }}); err != nil {
			return fmt.Errorf("webhook: %w", err)
		}
		if kind != KindMailgun || sealed == "" || c.ring == nil {
			return errs.NotFoundf("No such webhook.")
		}
		key, err := c.ring.Open(sealed, hookWhere(wsID))
		if err != nil {
			return fmt.Errorf("webhook key: %w", err)
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return errs.New(errs.Invalid, "Not a Mailgun webhook.")
		}
		if err := VerifyMailgun(key, in.Signature.Timestamp, in.Signature.Token, in.Signature.Signature, now); err != nil {
			return err
		}
		if seen, err := pevents.SeenToken(conn, in.Signature.Token, now); err != nil {
			return err
		} else if seen {
			return errHook
		}
		ev, err := events.ParseEvent(events.RawJSON(in.EventData))
		if err != nil {
			return errs.New(errs.Invalid, "The webhook's event does not parse.")
		}
		pe, ok := fromMailgun(ev)
		if !ok {
			return nil // an event pi-crm does not keep (accepted, stored): taken, ignored
		}
		pe.Provider, pe.Via, pe.WorkspaceID = KindMailgun, "webhook", wsID
		_, err = pevents.Record(conn, pe)
		return err
	})
}

func hookWhere(wsID string) string { return "email_providers.webhook_secret:" + wsID }
