// Package fakegoogle is a server on loopback that speaks the parts of
// Google's OAuth 2.0 and the Gmail API pi-crm uses, for tests: the consent
// page of a Desktop client (PKCE, a loopback redirect), the token endpoint
// (authorization code with its verifier, refresh), users.messages.send,
// messages.list (rfc822msgid: and the inbox), messages.get as metadata,
// the profile's history id, and history.list, which answers 404 for a
// history id it has forgotten.
package fakegoogle

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pi-crm/pi-crm/internal/fakeoauth"
)

// Message is one message of the mailbox.
type Message struct {
	ID        string
	History   int
	Labels    []string
	From      string
	Subject   string
	MessageID string // with angle brackets, as in the header
	InReplyTo string
	Refs      string
	Snippet   string
	At        time.Time
	Raw       []byte
}

// Server is the fake Google for one account and one Desktop client.
type Server struct {
	*httptest.Server
	fakeoauth.Tokens
	// Redirect is the client's registered redirect.
	Redirect string

	mu      sync.Mutex
	codes   map[string]string // code -> code challenge
	msgs    []*Message
	history int
	forgot  int // history ids at or below this answer 404
}

// New starts a fake Google for client id with secret.
func New(id, secret, redirect string) *Server {
	s := &Server{Tokens: fakeoauth.Tokens{ClientID: id, ClientSecret: secret}, Redirect: redirect, codes: map[string]string{}, history: 1000}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /o/oauth2/v2/auth", s.consentPage)
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("POST /gmail/v1/users/me/messages/send", s.API(s.send))
	mux.HandleFunc("GET /gmail/v1/users/me/messages", s.API(s.list))
	mux.HandleFunc("GET /gmail/v1/users/me/messages/{id}", s.API(s.get))
	mux.HandleFunc("GET /gmail/v1/users/me/profile", s.API(s.profile))
	mux.HandleFunc("GET /gmail/v1/users/me/history", s.API(s.historyList))
	s.Server = httptest.NewServer(mux)
	return s
}

// Consent is the user allowing the app on the consent page at authURL: it
// checks the request as Google does and returns the address the browser is
// sent to (the loopback redirect with the code), or an error.
func (s *Server) Consent(authURL string) (string, error) {
	u, err := url.Parse(authURL)
	if err != nil {
		return "", err
	}
	q := u.Query()
	switch {
	case q.Get("client_id") != s.ClientID:
		return "", fmt.Errorf("consent: unknown client %q", q.Get("client_id"))
	case q.Get("redirect_uri") != s.Redirect:
		return "", fmt.Errorf("consent: redirect_uri_mismatch %q", q.Get("redirect_uri"))
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		return "", fmt.Errorf("consent: no S256 code challenge")
	case q.Get("access_type") != "offline":
		return "", fmt.Errorf("consent: not offline: no refresh token would be given")
	case !strings.Contains(q.Get("scope"), "gmail.send") || !strings.Contains(q.Get("scope"), "gmail.readonly"):
		return "", fmt.Errorf("consent: scopes %q", q.Get("scope"))
	}
	code := fakeoauth.Token("4/0A")
	s.mu.Lock()
	s.codes[code] = q.Get("code_challenge")
	s.mu.Unlock()
	r := url.Values{"state": {q.Get("state")}, "code": {code}, "scope": {q.Get("scope")}}
	return s.Redirect + "?" + r.Encode(), nil
}

func (s *Server) consentPage(w http.ResponseWriter, r *http.Request) {
	to, err := s.Consent(s.URL + r.URL.RequestURI())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, to, http.StatusFound)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if !s.CheckClient(w, r) {
		return
	}
	switch r.PostFormValue("grant_type") {
	case "authorization_code":
		code := r.PostFormValue("code")
		s.mu.Lock()
		challenge, ok := s.codes[code]
		delete(s.codes, code) // a code works once
		s.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		switch {
		case !ok:
			fakeoauth.Fail(w, http.StatusBadRequest, "invalid_grant", "Malformed auth code.")
		case base64.RawURLEncoding.EncodeToString(sum[:]) != challenge:
			fakeoauth.Fail(w, http.StatusBadRequest, "invalid_grant", "Invalid code verifier.")
		case r.PostFormValue("redirect_uri") != s.Redirect:
			fakeoauth.Fail(w, http.StatusBadRequest, "redirect_uri_mismatch", "Bad Request")
		default:
			s.Issue(w)
		}
	case "refresh_token":
		s.Refresh(w, r)
	default:
		fakeoauth.Fail(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type.")
	}
}

// add puts m in the mailbox under the next history id.
func (s *Server) add(m *Message) *Message {
	s.history++
	m.History, m.ID = s.history, fmt.Sprintf("18c%013x", s.history)
	if m.At.IsZero() {
		m.At = time.Now()
	}
	s.msgs = append(s.msgs, m)
	return m
}

// Deliver puts an email from from into the inbox, answering the message
// inReplyTo (a Message-ID, or "") with references refs.
func (s *Server) Deliver(from, subject, inReplyTo, refs, snippet string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	mid := fmt.Sprintf("<reply-%d@mail.example>", s.history+1)
	return s.add(&Message{Labels: []string{"INBOX", "UNREAD"}, From: from, Subject: subject, MessageID: mid, InReplyTo: inReplyTo, Refs: refs, Snippet: snippet}).ID
}

// ForgetHistory makes every history id up to now stale, as Gmail does
// after about a week.
func (s *Server) ForgetHistory() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgot = s.history
}

// Sent returns the Message-IDs (without brackets) of the messages sent,
// one entry a send.
func (s *Server) Sent() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.msgs {
		if hasLabel(m, "SENT") {
			out = append(out, strings.Trim(m.MessageID, "<>"))
		}
	}
	return out
}

// SentRaw returns the MIME of the sent message with Message-ID id.
func (s *Server) SentRaw(id string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if hasLabel(m, "SENT") && strings.Trim(m.MessageID, "<>") == id {
			return m.Raw
		}
	}
	return nil
}

func hasLabel(m *Message, l string) bool {
	for _, x := range m.Labels {
		if x == l {
			return true
		}
	}
	return false
}

func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Raw string `json:"raw"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		fakeoauth.WriteJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"code": 400, "message": err.Error()}})
		return
	}
	raw, err := base64.URLEncoding.DecodeString(in.Raw)
	if err != nil {
		raw, err = base64.RawURLEncoding.DecodeString(in.Raw)
	}
	if err != nil {
		fakeoauth.WriteJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"code": 400, "message": "Invalid value for ByteString"}})
		return
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil || msg.Header.Get("To") == "" {
		fakeoauth.WriteJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"code": 400, "message": "Invalid To header"}})
		return
	}
	s.mu.Lock()
	m := s.add(&Message{Labels: []string{"SENT"}, From: msg.Header.Get("From"), Subject: msg.Header.Get("Subject"), MessageID: msg.Header.Get("Message-Id"), Raw: raw})
	s.mu.Unlock()
	fakeoauth.WriteJSON(w, http.StatusOK, map[string]any{"id": m.ID, "threadId": m.ID, "labelIds": m.Labels})
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	s.mu.Lock()
	out := []map[string]string{}
	for _, m := range s.msgs {
		switch {
		case strings.HasPrefix(q, "rfc822msgid:"):
			if strings.Trim(m.MessageID, "<>") != strings.Trim(strings.TrimPrefix(q, "rfc822msgid:"), "<>") {
				continue
			}
		case strings.HasPrefix(q, "in:inbox"):
			if !hasLabel(m, "INBOX") || time.Since(m.At) > 48*time.Hour {
				continue
			}
		default:
			continue
		}
		out = append(out, map[string]string{"id": m.ID, "threadId": m.ID})
	}
	s.mu.Unlock()
	res := map[string]any{"resultSizeEstimate": len(out)}
	if len(out) > 0 {
		res["messages"] = out
	}
	fakeoauth.WriteJSON(w, http.StatusOK, res)
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var m *Message
	for _, x := range s.msgs {
		if x.ID == r.PathValue("id") {
			m = x
		}
	}
	s.mu.Unlock()
	if m == nil {
		fakeoauth.WriteJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{"code": 404, "message": "Requested entity was not found."}})
		return
	}
	var hs []map[string]string
	for _, h := range [][2]string{{"From", m.From}, {"Subject", m.Subject}, {"Message-ID", m.MessageID}, {"In-Reply-To", m.InReplyTo}, {"References", m.Refs}} {
		if h[1] != "" {
			hs = append(hs, map[string]string{"name": h[0], "value": h[1]})
		}
	}
	fakeoauth.WriteJSON(w, http.StatusOK, map[string]any{"id": m.ID, "threadId": m.ID, "labelIds": m.Labels, "snippet": m.Snippet,
		"historyId": strconv.Itoa(m.History), "internalDate": strconv.FormatInt(m.At.UnixMilli(), 10), "payload": map[string]any{"headers": hs}})
}

func (s *Server) profile(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	h := s.history
	s.mu.Unlock()
	fakeoauth.WriteJSON(w, http.StatusOK, map[string]any{"emailAddress": "me@example.com", "historyId": strconv.Itoa(h)})
}

// historyList answers history.list, two records a page.
func (s *Server) historyList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	start, err := strconv.Atoi(q.Get("startHistoryId"))
	if err != nil {
		fakeoauth.WriteJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"code": 400, "message": "Invalid startHistoryId"}})
		return
	}
	if q.Get("pageToken") != "" {
		start, _ = strconv.Atoi(q.Get("pageToken"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if start <= s.forgot {
		fakeoauth.WriteJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{"code": 404, "message": "Requested entity was not found."}})
		return
	}
	var recs []map[string]any
	next := ""
	for _, m := range s.msgs {
		if m.History <= start || q.Get("labelId") != "" && !hasLabel(m, q.Get("labelId")) {
			continue
		}
		if len(recs) == 2 {
			next = strconv.Itoa(m.History - 1)
			break
		}
		recs = append(recs, map[string]any{"id": strconv.Itoa(m.History), "messagesAdded": []map[string]any{{"message": map[string]any{"id": m.ID, "labelIds": m.Labels}}}})
	}
	res := map[string]any{"historyId": strconv.Itoa(s.history)}
	if len(recs) > 0 {
		res["history"] = recs
	}
	if next != "" {
		res["nextPageToken"] = next
	}
	fakeoauth.WriteJSON(w, http.StatusOK, res)
}

// AddSent records a message with Message-ID id as sent, as if a send had
// reached Gmail and its answer was lost.
func (s *Server) AddSent(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.add(&Message{Labels: []string{"SENT"}, MessageID: "<" + id + ">"})
}
