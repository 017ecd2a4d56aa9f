// Package fakemailgun is a server on loopback that speaks the part of
// Mailgun's API pi-crm uses, for tests: POST /v3/{domain}/messages.mime
// (basic auth api:<key>; the MIME message, the recipients and v: variables)
// and GET /v3/{domain}/events filtered by message-id, with Mailgun's paging.
// It records every message it accepted, so a test can count sends per
// Message-ID, and it can be told to fail or to hang.
package fakemailgun

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"time"
)

// Message is one accepted message.
type Message struct {
	At        time.Time
	Domain    string
	To        []string
	MessageID string // without angle brackets
	Variables map[string]string
	MIME      string
}

// Server is the fake API.
type Server struct {
	*httptest.Server
	Key string

	mu       sync.Mutex
	accepted []Message
	byID     map[string]int // sends per Message-ID
	failNext []int          // statuses to answer the next sends with
	hang     time.Duration  // accept, then wait this long before answering
	scripted []map[string]any
}

// Event is a scripted event in Mailgun's shape.
type Event struct {
	ID        string
	Kind      string // delivered, failed, complained, unsubscribed, opened
	Severity  string // failed: permanent or temporary
	Reason    string
	MessageID string
	OutboxID  string // the picrm-id variable
	Recipient string
	At        time.Time
}

// AddEvent makes the events API return e from now on.
func (s *Server) AddEvent(domain string, e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	item := map[string]any{"event": e.Kind, "id": e.ID, "timestamp": float64(e.At.UnixNano()) / 1e9, "log-level": "info", "recipient": e.Recipient,
		"user-variables": map[string]any{"picrm-id": e.OutboxID}, "domain": domain,
		"message": map[string]any{"headers": map[string]any{"message-id": e.MessageID, "to": e.Recipient}}}
	if e.Kind == "failed" {
		item["severity"], item["reason"] = e.Severity, e.Reason
		item["delivery-status"] = map[string]any{"message": e.Reason, "code": 550}
	}
	s.scripted = append(s.scripted, item)
}

// New starts a server that accepts API key key.
func New(key string) *Server {
	s := &Server{Key: key, byID: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v3/{domain}/messages.mime", s.send)
	mux.HandleFunc("GET /v3/{domain}/events", s.events)
	s.Server = httptest.NewServer(mux)
	return s
}

// FailNext makes the next sends answer with these statuses, in order.
func (s *Server) FailNext(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, statuses...)
}

// Hang makes each send wait d after accepting before it answers (a
// provider that took the message and then timed out).
func (s *Server) Hang(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = d
}

// Accepted returns the messages accepted so far.
func (s *Server) Accepted() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.accepted...)
}

// Sends returns how many times each Message-ID was accepted.
func (s *Server) Sends() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.byID))
	for k, v := range s.byID {
		out[k] = v
	}
	return out
}

func (s *Server) authorized(r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	return ok && u == "api" && p == s.Key
}

func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		http.Error(w, `{"message":"Invalid private key"}`, http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	if len(s.failNext) > 0 {
		st := s.failNext[0]
		s.failNext = s.failNext[1:]
		s.mu.Unlock()
		w.WriteHeader(st)
		fmt.Fprintf(w, `{"message":"scripted failure %d"}`, st)
		return
	}
	hang := s.hang
	s.mu.Unlock()
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		http.Error(w, `{"message":"bad form"}`, http.StatusBadRequest)
		return
	}
	f, _, err := r.FormFile("message")
	if err != nil {
		http.Error(w, `{"message":"need a message"}`, http.StatusBadRequest)
		return
	}
	raw, _ := io.ReadAll(f)
	f.Close()
	parsed, err := mail.ReadMessage(bufio.NewReader(strings.NewReader(string(raw))))
	if err != nil {
		http.Error(w, `{"message":"bad MIME"}`, http.StatusBadRequest)
		return
	}
	m := Message{At: time.Now(), Domain: r.PathValue("domain"), To: r.MultipartForm.Value["to"], MIME: string(raw),
		MessageID: strings.Trim(parsed.Header.Get("Message-Id"), "<> "), Variables: map[string]string{}}
	for k, v := range r.MultipartForm.Value {
		if name, ok := strings.CutPrefix(k, "v:"); ok && len(v) > 0 {
			m.Variables[name] = v[0]
		}
	}
	s.mu.Lock()
	s.accepted = append(s.accepted, m)
	s.byID[m.MessageID]++
	s.mu.Unlock()
	if hang > 0 {
		select {
		case <-time.After(hang):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"id": "<" + m.MessageID + ">", "message": "Queued. Thank you."})
}

// events answers a search by message-id with the acceptances, one page,
// and an empty next page, as Mailgun pages.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		http.Error(w, `{"message":"Invalid private key"}`, http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	items := []map[string]any{}
	if q.Get("page") == "" {
		want := strings.Trim(q.Get("message-id"), "<>")
		var begin time.Time
		if b := q.Get("begin"); b != "" {
			begin, _ = time.Parse("Mon, 2 Jan 2006 15:04:05 -0700", b)
		}
		s.mu.Lock()
		for _, it := range s.scripted {
			at := time.Unix(0, int64(it["timestamp"].(float64)*1e9))
			mid := it["message"].(map[string]any)["headers"].(map[string]any)["message-id"].(string)
			if it["domain"] != r.PathValue("domain") || (want != "" && mid != want) || at.Before(begin.Add(-time.Second)) {
				continue
			}
			items = append(items, it)
		}
		for i, m := range s.accepted {
			if m.Domain != r.PathValue("domain") || (want != "" && m.MessageID != want) {
				continue
			}
			vars := map[string]any{}
			for k, v := range m.Variables {
				vars[k] = v
			}
			items = append(items, map[string]any{"event": "accepted", "id": fmt.Sprintf("ev%d", i), "timestamp": float64(m.At.UnixNano()) / 1e9,
				"log-level": "info", "recipient": strings.Join(m.To, ","), "user-variables": vars,
				"message": map[string]any{"headers": map[string]any{"message-id": m.MessageID, "to": strings.Join(m.To, ",")}}})
		}
		s.mu.Unlock()
	}
	next := *r.URL
	nq := next.Query()
	nq.Set("page", "next")
	next.RawQuery = nq.Encode()
	base := s.URL + next.Path + "?" + next.RawQuery
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"items": items, "paging": map[string]string{"next": base, "first": base, "last": base, "previous": base}})
}
