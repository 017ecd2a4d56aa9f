// Package fakemicrosoft is a server on loopback that speaks the parts of
// the Microsoft identity platform and Microsoft Graph pi-crm uses, for
// tests: the device-code flow (devicecode, then the token endpoint
// answering authorization_pending until the user enters the code), refresh
// tokens that turn over on each use, drafts made from MIME and sent, Sent
// Items filtered by internetMessageId, and the inbox's delta, whose old
// links answer 410 Gone once forgotten.
package fakemicrosoft

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pi-crm/pi-crm/internal/fakeoauth"
)

// Message is one message of the mailbox.
type Message struct {
	ID        string
	Seq       int
	Folder    string // drafts, sentitems, inbox
	From      string
	FromName  string
	Subject   string
	MessageID string // with angle brackets
	InReplyTo string
	Refs      string
	Preview   string
	At        time.Time
	Raw       []byte
}

type device struct {
	user     string
	approved bool
	declined bool
	expires  time.Time
}

// Server is the fake Microsoft for one account and one public client.
type Server struct {
	*httptest.Server
	fakeoauth.Tokens

	mu      sync.Mutex
	devices map[string]*device // device code -> state
	msgs    []*Message
	seq     int
	forgot  int // delta tokens at or below this answer 410
}

// New starts a fake Microsoft for the app registration with client id.
func New(id string) *Server {
	s := &Server{Tokens: fakeoauth.Tokens{ClientID: id, Rotate: true}, devices: map[string]*device{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/devicecode", s.devicecode)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.token)
	mux.HandleFunc("POST /v1.0/me/messages", s.API(s.draft))
	mux.HandleFunc("POST /v1.0/me/messages/{id}/send", s.API(s.send))
	mux.HandleFunc("DELETE /v1.0/me/messages/{id}", s.API(s.remove))
	mux.HandleFunc("GET /v1.0/me/mailFolders/sentitems/messages", s.API(s.sentItems))
	mux.HandleFunc("GET /v1.0/me/mailFolders/inbox/messages/delta", s.API(s.delta))
	s.Server = httptest.NewServer(mux)
	return s
}

func (s *Server) devicecode(w http.ResponseWriter, r *http.Request) {
	if !s.CheckClient(w, r) {
		return
	}
	if sc := r.PostFormValue("scope"); !strings.Contains(sc, "offline_access") || !strings.Contains(sc, "Mail.Send") || !strings.Contains(sc, "Mail.Read") {
		fakeoauth.Fail(w, http.StatusBadRequest, "invalid_scope", "scopes: "+sc)
		return
	}
	code, user := fakeoauth.Token("DAQABAAEAAA"), strings.ToUpper(fakeoauth.Token("")[:9])
	s.mu.Lock()
	s.devices[code] = &device{user: user, expires: time.Now().Add(15 * time.Minute)}
	s.mu.Unlock()
	fakeoauth.WriteJSON(w, http.StatusOK, map[string]any{"device_code": code, "user_code": user, "verification_uri": "https://microsoft.com/devicelogin",
		"expires_in": 900, "interval": 1, "message": "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code " + user + " to authenticate."})
}

// Enter is the user typing code at the verification page and accepting
// (or, with accept false, declining). It reports whether the code was
// known.
func (s *Server) Enter(code string, accept bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.devices {
		if d.user == code {
			d.approved, d.declined = accept, !accept
			return true
		}
	}
	return false
}

// ExpireCodes makes every device code run out.
func (s *Server) ExpireCodes() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.devices {
		d.expires = time.Now().Add(-time.Second)
	}
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if !s.CheckClient(w, r) {
		return
	}
	switch r.PostFormValue("grant_type") {
	case "urn:ietf:params:oauth:grant-type:device_code":
		s.mu.Lock()
		d := s.devices[r.PostFormValue("device_code")]
		var code string
		switch {
		case d == nil:
			code = "invalid_grant"
		case time.Now().After(d.expires):
			code = "expired_token"
		case d.declined:
			code = "authorization_declined"
		case !d.approved:
			code = "authorization_pending"
		default:
			delete(s.devices, r.PostFormValue("device_code"))
		}
		s.mu.Unlock()
		if code != "" {
			fakeoauth.Fail(w, http.StatusBadRequest, code, "AADSTS70016: "+code)
			return
		}
		s.Issue(w)
	case "refresh_token":
		s.Refresh(w, r)
	default:
		fakeoauth.Fail(w, http.StatusBadRequest, "unsupported_grant_type", "AADSTS70003")
	}
}

func graphError(w http.ResponseWriter, status int, code, msg string) {
	fakeoauth.WriteJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (s *Server) add(m *Message) *Message {
	s.seq++
	m.Seq, m.ID = s.seq, fmt.Sprintf("AAMkAGI2%08d", s.seq)
	if m.At.IsZero() {
		m.At = time.Now().UTC()
	}
	s.msgs = append(s.msgs, m)
	return m
}

func (s *Server) draft(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		graphError(w, http.StatusBadRequest, "RequestBodyRead", "a JSON message was not expected here")
		return
	}
	b, _ := io.ReadAll(r.Body)
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		graphError(w, http.StatusBadRequest, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")
		return
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil || msg.Header.Get("To") == "" {
		graphError(w, http.StatusBadRequest, "ErrorMimeContentInvalid", "The MIME content is invalid.")
		return
	}
	s.mu.Lock()
	m := s.add(&Message{Folder: "drafts", From: msg.Header.Get("From"), Subject: msg.Header.Get("Subject"), MessageID: msg.Header.Get("Message-Id"), Raw: raw})
	s.mu.Unlock()
	fakeoauth.WriteJSON(w, http.StatusCreated, map[string]any{"id": m.ID, "internetMessageId": m.MessageID, "subject": m.Subject, "isDraft": true})
}

func (s *Server) find(id string) *Message {
	for _, m := range s.msgs {
		if m.ID == id {
			return m
		}
	}
	return nil
}

func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	m := s.find(r.PathValue("id"))
	if m != nil && m.Folder == "drafts" {
		m.Folder = "sentitems"
	}
	s.mu.Unlock()
	if m == nil {
		graphError(w, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) remove(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, m := range s.msgs {
		if m.ID == r.PathValue("id") {
			s.msgs = append(s.msgs[:i], s.msgs[i+1:]...)
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	graphError(w, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
}

func (s *Server) sentItems(w http.ResponseWriter, r *http.Request) {
	f := r.URL.Query().Get("$filter")
	want, ok := strings.CutPrefix(f, "internetMessageId eq '")
	if !ok || !strings.HasSuffix(want, "'") {
		graphError(w, http.StatusBadRequest, "BadRequest", "Invalid filter clause")
		return
	}
	want = strings.ReplaceAll(strings.TrimSuffix(want, "'"), "''", "'")
	s.mu.Lock()
	out := []map[string]any{}
	for _, m := range s.msgs {
		if m.Folder == "sentitems" && m.MessageID == want {
			out = append(out, map[string]any{"id": m.ID})
		}
	}
	s.mu.Unlock()
	fakeoauth.WriteJSON(w, http.StatusOK, map[string]any{"value": out})
}

// Deliver puts an email from from into the inbox, answering the message
// inReplyTo (a Message-ID with brackets, or "") with references refs.
func (s *Server) Deliver(from, name, subject, inReplyTo, refs, preview string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	mid := fmt.Sprintf("<reply-%d@outlook.example>", s.seq+1)
	return s.add(&Message{Folder: "inbox", From: from, FromName: name, Subject: subject, MessageID: mid, InReplyTo: inReplyTo, Refs: refs, Preview: preview}).ID
}

// ForgetDelta makes every delta link given so far answer 410 Gone.
func (s *Server) ForgetDelta() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgot = s.seq
}

// Sent returns the Message-IDs (without brackets) in Sent Items, one entry
// a send.
func (s *Server) Sent() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.msgs {
		if m.Folder == "sentitems" {
			out = append(out, strings.Trim(m.MessageID, "<>"))
		}
	}
	return out
}

// Drafts counts the drafts left.
func (s *Server) Drafts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.msgs {
		if m.Folder == "drafts" {
			n++
		}
	}
	return n
}

// delta answers the inbox's delta: a first call (optionally filtered by
// receivedDateTime ge) lists the inbox, two messages a page; the deltaLink
// it ends with lists what came in since.
func (s *Server) delta(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after := 0
	if t := q.Get("$deltatoken"); t != "" {
		after, _ = strconv.Atoi(t)
		s.mu.Lock()
		gone := after <= s.forgot
		s.mu.Unlock()
		if gone {
			graphError(w, http.StatusGone, "SyncStateNotFound", "The sync state generation is not found.")
			return
		}
	}
	if t := q.Get("$skiptoken"); t != "" {
		after, _ = strconv.Atoi(t)
	}
	var since time.Time
	if f, ok := strings.CutPrefix(q.Get("$filter"), "receivedDateTime ge "); ok {
		var err error
		if since, err = time.Parse(time.RFC3339, f); err != nil {
			graphError(w, http.StatusBadRequest, "BadRequest", "Invalid filter clause")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var page []map[string]any
	next := ""
	for _, m := range s.msgs {
		if m.Seq <= after || m.Folder != "inbox" || m.At.Before(since.Add(-time.Second)) {
			continue
		}
		if len(page) == 2 {
			next = fmt.Sprintf("%s/v1.0/me/mailFolders/inbox/messages/delta?$skiptoken=%d", s.URL, page[1]["_seq"])
			break
		}
		var hs []map[string]string
		if m.InReplyTo != "" {
			hs = append(hs, map[string]string{"name": "In-Reply-To", "value": m.InReplyTo})
		}
		if m.Refs != "" {
			hs = append(hs, map[string]string{"name": "References", "value": m.Refs})
		}
		page = append(page, map[string]any{"_seq": m.Seq, "id": m.ID, "subject": m.Subject, "bodyPreview": m.Preview, "internetMessageId": m.MessageID,
			"receivedDateTime": m.At.UTC().Format(time.RFC3339), "from": map[string]any{"emailAddress": map[string]string{"name": m.FromName, "address": m.From}},
			"internetMessageHeaders": hs})
	}
	for _, p := range page {
		delete(p, "_seq")
	}
	res := map[string]any{"value": page}
	if page == nil {
		res["value"] = []any{}
	}
	if next != "" {
		res["@odata.nextLink"] = next
	} else {
		res["@odata.deltaLink"] = fmt.Sprintf("%s/v1.0/me/mailFolders/inbox/messages/delta?$deltatoken=%d", s.URL, s.seq)
	}
	fakeoauth.WriteJSON(w, http.StatusOK, res)
}

// AddSent records a message with Message-ID id in Sent Items, as if a send
// had reached Graph and its answer was lost.
func (s *Server) AddSent(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.add(&Message{Folder: "sentitems", MessageID: "<" + id + ">"})
}
