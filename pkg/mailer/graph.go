package mailer

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	pevents "github.com/pi-crm/pi-crm/pkg/events"
	"github.com/pi-crm/pi-crm/pkg/outbox"
)

// Graph sends through Microsoft Graph as the signed-in Microsoft 365
// account: our MIME becomes a draft (so the message has an id and keeps
// our Message-ID), then the draft is sent. A message is found again in
// Sent Items by its internetMessageId, and the inbox's delta gives the
// replies.
type Graph struct{ api *rest }

// DefaultGraphBase is Microsoft Graph.
const DefaultGraphBase = "https://graph.microsoft.com"

// Kind is "microsoft".
func (*Graph) Kind() string { return KindMicrosoft }

// Send makes m a draft from its MIME and sends the draft. A draft that
// could not be sent for certain is deleted, so a retry leaves no second
// one behind.
func (g *Graph) Send(ctx context.Context, m *Mail) (string, error) {
	b, err := m.MIME()
	if err != nil {
		return "", err
	}
	var draft struct {
		ID string `json:"id"`
	}
	if err := g.api.call(ctx, http.MethodPost, g.api.base+"/v1.0/me/messages", "text/plain", []byte(base64.StdEncoding.EncodeToString(b)), &draft); err != nil {
		if Classify(err) == outbox.Unknown {
			// A draft may exist, but nothing was sent: safe to try again.
			return "", retrying(err)
		}
		return "", err
	}
	err = g.api.call(ctx, http.MethodPost, g.api.base+"/v1.0/me/messages/"+url.PathEscape(draft.ID)+"/send", "", nil, nil)
	if err != nil && Classify(err) != outbox.Unknown {
		_ = g.api.call(context.WithoutCancel(ctx), http.MethodDelete, g.api.base+"/v1.0/me/messages/"+url.PathEscape(draft.ID), "", nil, nil)
	}
	if err != nil {
		return "", err
	}
	return m.MessageID, nil
}

// Lookup searches Sent Items for our Message-ID.
func (g *Graph) Lookup(ctx context.Context, m *Mail, _ time.Time) (outbox.Verdict, string, error) {
	q := url.Values{"$filter": {"internetMessageId eq '<" + strings.ReplaceAll(m.MessageID, "'", "''") + ">'"}, "$select": {"id"}}
	var out struct {
		Value []struct {
			ID string `json:"id"`
		} `json:"value"`
	}
	if err := g.api.call(ctx, http.MethodGet, g.api.base+"/v1.0/me/mailFolders/sentitems/messages?"+q.Encode(), "", nil, &out); err != nil {
		return outbox.Undecided, "", err
	}
	if len(out.Value) == 0 {
		return outbox.NeverSent, "", nil
	}
	return outbox.WasSent, out.Value[0].ID, nil
}

// graphResync is the cursor that reads the last two days again.
const graphResync = "resync"

// graphSelect is what the inbox's delta returns of each message.
const graphSelect = "from,subject,internetMessageId,bodyPreview,receivedDateTime,internetMessageHeaders"

// Inbox follows the inbox's delta from cursor (Graph's deltaLink) and
// returns the new messages and the next deltaLink. With no cursor it
// starts from now; a cursor Graph no longer knows (410 Gone) starts again
// from two days back (each email is recorded once anyway).
func (g *Graph) Inbox(ctx context.Context, cursor string) ([]pevents.Email, string, error) {
	start := func(since time.Time) string {
		q := url.Values{"$select": {graphSelect}, "$filter": {"receivedDateTime ge " + since.UTC().Format(time.RFC3339)}}
		return g.api.base + "/v1.0/me/mailFolders/inbox/messages/delta?" + q.Encode()
	}
	link := cursor
	if link == "" {
		link = start(time.Now())
	} else if !strings.HasPrefix(link, g.api.base+"/") {
		link = start(time.Now().Add(-48 * time.Hour)) // a resync, or a cursor for another address: never followed
	}
	var mails []pevents.Email
	for range 100 {
		var out struct {
			Value []struct {
				ID      string `json:"id"`
				Subject string `json:"subject"`
				From    struct {
					EmailAddress struct {
						Name    string `json:"name"`
						Address string `json:"address"`
					} `json:"emailAddress"`
				} `json:"from"`
				InternetMessageID string    `json:"internetMessageId"`
				BodyPreview       string    `json:"bodyPreview"`
				Received          time.Time `json:"receivedDateTime"`
				Headers           []struct {
					Name  string `json:"name"`
					Value string `json:"value"`
				} `json:"internetMessageHeaders"`
				Removed any `json:"@removed"`
			} `json:"value"`
			Next  string `json:"@odata.nextLink"`
			Delta string `json:"@odata.deltaLink"`
		}
		err := g.api.call(ctx, http.MethodGet, link, "", nil, &out)
		if status(err) == http.StatusGone && cursor != "" && cursor != graphResync {
			return g.Inbox(ctx, graphResync)
		}
		if err != nil {
			return nil, cursor, fmt.Errorf("graph inbox delta: %w", err)
		}
		for _, v := range out.Value {
			if v.Removed != nil || v.From.EmailAddress.Address == "" {
				continue
			}
			e := pevents.Email{Provider: KindMicrosoft, ID: v.ID, Subject: v.Subject, Snippet: v.BodyPreview, MessageID: v.InternetMessageID, At: v.Received,
				From: strings.ToLower(v.From.EmailAddress.Address), FromName: v.From.EmailAddress.Name}
			for _, h := range v.Headers {
				switch strings.ToLower(h.Name) {
				case "in-reply-to":
					e.InReplyTo = h.Value
				case "references":
					e.References = strings.Fields(h.Value)
				}
			}
			mails = append(mails, e)
		}
		switch {
		case out.Delta != "":
			return mails, out.Delta, nil
		case out.Next != "" && strings.HasPrefix(out.Next, g.api.base+"/"):
			link = out.Next
		default:
			return mails, cursor, fmt.Errorf("graph inbox delta: an answer with neither a next nor a delta link")
		}
	}
	return mails, cursor, fmt.Errorf("graph inbox delta: more than 100 pages")
}
