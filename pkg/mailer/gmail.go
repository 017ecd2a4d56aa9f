package mailer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	pevents "github.com/pi-crm/pi-crm/pkg/events"
	"github.com/pi-crm/pi-crm/pkg/outbox"
)

// Gmail sends through the Gmail API as the signed-in Google Workspace
// account (users.messages.send with our MIME, so our Message-ID), finds a
// message again by rfc822msgid:, and reads the inbox's history for
// replies.
type Gmail struct{ api *rest }

// DefaultGmailBase is the Gmail API.
const DefaultGmailBase = "https://gmail.googleapis.com"

// Kind is "google".
func (*Gmail) Kind() string { return KindGoogle }

// Send posts m's MIME as users.messages.send's raw message.
func (g *Gmail) Send(ctx context.Context, m *Mail) (string, error) {
	b, err := m.MIME()
	if err != nil {
		return "", err
	}
	body, _ := json.Marshal(map[string]string{"raw": base64.RawURLEncoding.EncodeToString(b)})
	var out struct {
		ID string `json:"id"`
	}
	if err := g.api.call(ctx, http.MethodPost, g.api.base+"/gmail/v1/users/me/messages/send", "application/json", body, &out); err != nil {
		return "", err
	}
	return out.ID, nil
}

// Lookup searches the mailbox for our Message-ID (rfc822msgid:), sent
// items included.
func (g *Gmail) Lookup(ctx context.Context, m *Mail, _ time.Time) (outbox.Verdict, string, error) {
	q := url.Values{"q": {"rfc822msgid:" + m.MessageID}, "includeSpamTrash": {"true"}}
	var out struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	if err := g.api.call(ctx, http.MethodGet, g.api.base+"/gmail/v1/users/me/messages?"+q.Encode(), "", nil, &out); err != nil {
		return outbox.Undecided, "", err
	}
	if len(out.Messages) == 0 {
		return outbox.NeverSent, "", nil
	}
	return outbox.WasSent, out.Messages[0].ID, nil
}

// Inbox returns the emails added to the inbox since cursor (a history id)
// and the cursor to ask from next. With no cursor it only notes where the
// mailbox stands; a cursor Gmail no longer knows (404) reads the last two
// days of the inbox again (each email is recorded once anyway).
func (g *Gmail) Inbox(ctx context.Context, cursor string) ([]pevents.Email, string, error) {
	var prof struct {
		HistoryID string `json:"historyId"`
	}
	if cursor == "" {
		err := g.api.call(ctx, http.MethodGet, g.api.base+"/gmail/v1/users/me/profile", "", nil, &prof)
		return nil, prof.HistoryID, err
	}
	var ids []string
	next := cursor
	page := ""
	for {
		q := url.Values{"startHistoryId": {cursor}, "historyTypes": {"messageAdded"}, "labelId": {"INBOX"}}
		if page != "" {
			q.Set("pageToken", page)
		}
		var out struct {
			History []struct {
				MessagesAdded []struct {
					Message struct {
						ID       string   `json:"id"`
						LabelIDs []string `json:"labelIds"`
					} `json:"message"`
				} `json:"messagesAdded"`
			} `json:"history"`
			HistoryID     string `json:"historyId"`
			NextPageToken string `json:"nextPageToken"`
		}
		err := g.api.call(ctx, http.MethodGet, g.api.base+"/gmail/v1/users/me/history?"+q.Encode(), "", nil, &out)
		if status(err) == http.StatusNotFound {
			return g.resync(ctx)
		}
		if err != nil {
			return nil, cursor, fmt.Errorf("gmail history: %w", err)
		}
		for _, h := range out.History {
			for _, a := range h.MessagesAdded {
				if !slices.Contains(a.Message.LabelIDs, "SENT") {
					ids = append(ids, a.Message.ID)
				}
			}
		}
		if out.HistoryID != "" {
			next = out.HistoryID
		}
		if page = out.NextPageToken; page == "" {
			break
		}
	}
	mails, err := g.fetch(ctx, ids)
	if err != nil {
		return nil, cursor, err
	}
	return mails, next, nil
}

// resync lists the inbox's last two days and starts the history again
// from where the mailbox stands now.
func (g *Gmail) resync(ctx context.Context) ([]pevents.Email, string, error) {
	var prof struct {
		HistoryID string `json:"historyId"`
	}
	if err := g.api.call(ctx, http.MethodGet, g.api.base+"/gmail/v1/users/me/profile", "", nil, &prof); err != nil {
		return nil, "", fmt.Errorf("gmail profile: %w", err)
	}
	var out struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	q := url.Values{"q": {"in:inbox newer_than:2d"}, "maxResults": {"500"}}
	if err := g.api.call(ctx, http.MethodGet, g.api.base+"/gmail/v1/users/me/messages?"+q.Encode(), "", nil, &out); err != nil {
		return nil, "", fmt.Errorf("gmail full sync: %w", err)
	}
	ids := make([]string, 0, len(out.Messages))
	for _, m := range out.Messages {
		ids = append(ids, m.ID)
	}
	mails, err := g.fetch(ctx, ids)
	return mails, prof.HistoryID, err
}

// fetch reads the headers of messages ids.
func (g *Gmail) fetch(ctx context.Context, ids []string) ([]pevents.Email, error) {
	var mails []pevents.Email
	for _, id := range ids {
		q := url.Values{"format": {"metadata"}, "metadataHeaders": {"From", "Subject", "Message-ID", "In-Reply-To", "References"}}
		var out struct {
			ID           string `json:"id"`
			Snippet      string `json:"snippet"`
			InternalDate string `json:"internalDate"`
			Payload      struct {
				Headers []struct {
					Name  string `json:"name"`
					Value string `json:"value"`
				} `json:"headers"`
			} `json:"payload"`
		}
		err := g.api.call(ctx, http.MethodGet, g.api.base+"/gmail/v1/users/me/messages/"+url.PathEscape(id)+"?"+q.Encode(), "", nil, &out)
		if status(err) == http.StatusNotFound {
			continue // deleted since
		}
		if err != nil {
			return nil, fmt.Errorf("gmail message %s: %w", id, err)
		}
		h := map[string]string{}
		for _, kv := range out.Payload.Headers {
			h[strings.ToLower(kv.Name)] = kv.Value
		}
		e := pevents.Email{Provider: KindGoogle, ID: out.ID, Subject: h["subject"], Snippet: out.Snippet,
			MessageID: h["message-id"], InReplyTo: h["in-reply-to"], References: strings.Fields(h["references"])}
		e.FromName, e.From = parseFrom(h["from"])
		if ms, err := strconv.ParseInt(out.InternalDate, 10, 64); err == nil {
			e.At = time.UnixMilli(ms).UTC()
		}
		mails = append(mails, e)
	}
	return mails, nil
}

// parseFrom splits a From header into name and lower-case address.
func parseFrom(v string) (string, string) {
	a, err := mail.ParseAddress(v)
	if err != nil {
		return "", strings.ToLower(strings.Trim(strings.TrimSpace(v), "<>"))
	}
	return a.Name, strings.ToLower(a.Address)
}
