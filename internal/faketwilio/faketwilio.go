// Package faketwilio is a server on loopback that speaks the part of
// Twilio's Messages API pi-crm uses, for tests: POST Messages.json sends
// (refusing numbers that texted STOP with error 21610, as Twilio does), GET
// Messages.json lists by To, From and DateSent>, and Inbound adds a text
// someone sent to the account's number.
package faketwilio

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pi-crm/pi-crm/pkg/sms"
)

// Server is the fake API for one account.
type Server struct {
	*httptest.Server
	SID, Token string

	mu      sync.Mutex
	msgs    []map[string]any
	stopped map[string]bool
	n       int
}

// New starts a server for account sid with auth token token.
func New(sid, token string) *Server {
	s := &Server{SID: sid, Token: token, stopped: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Messages.json", s.send)
	mux.HandleFunc("GET /2010-04-01/Accounts/{sid}/Messages.json", s.list)
	s.Server = httptest.NewServer(mux)
	return s
}

func (s *Server) auth(w http.ResponseWriter, r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	if !ok || u != s.SID || p != s.Token || r.PathValue("sid") != s.SID {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"code":20003,"message":"Authenticate","status":401}`)
		return false
	}
	return true
}

func (s *Server) add(from, to, body, dir string) map[string]any {
	s.n++
	m := map[string]any{"sid": fmt.Sprintf("SM%032d", s.n), "from": from, "to": to, "body": body, "direction": dir, "status": "sent",
		"date_sent": time.Now().UTC().Format(time.RFC1123Z)}
	s.msgs = append(s.msgs, m)
	return m
}

// Inbound records a text from number from to the account's number to.
func (s *Server) Inbound(from, to, body string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped[from] = strings.EqualFold(strings.TrimSpace(body), "stop") || s.stopped[from] && !strings.EqualFold(strings.TrimSpace(body), "start")
	return s.add(from, to, body, "inbound")["sid"].(string)
}

// Sent returns the outbound texts' bodies by recipient.
func (s *Server) Sent() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for _, m := range s.msgs {
		if m["direction"] == "outbound-api" {
			out[m["to"].(string)] = append(out[m["to"].(string)], m["body"].(string))
		}
	}
	return out
}

func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	if !s.auth(w, r) {
		return
	}
	to, from, body := r.PostFormValue("To"), r.PostFormValue("From"), r.PostFormValue("Body")
	w.Header().Set("Content-Type", "application/json")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped[to] {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"code":21610,"message":"Attempt to send to unsubscribed recipient","status":400}`)
		return
	}
	if !strings.HasPrefix(to, "+") {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"code":21211,"message":"Invalid 'To' Phone Number","status":400}`)
		return
	}
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(s.add(from, to, body, "outbound-api"))
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	if !s.auth(w, r) {
		return
	}
	q := r.URL.Query()
	var day time.Time
	if d := q.Get("DateSent>"); d != "" {
		day, _ = time.Parse("2006-01-02", d)
	}
	s.mu.Lock()
	out := []map[string]any{}
	for _, m := range s.msgs {
		sent, _ := time.Parse(time.RFC1123Z, m["date_sent"].(string))
		if (q.Get("To") != "" && m["to"] != q.Get("To")) || (q.Get("From") != "" && m["from"] != q.Get("From")) || sent.Before(day) {
			continue
		}
		out = append(out, m)
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"messages": out, "next_page_uri": nil})
}

// SetStatus changes what the account says of text sid (delivered,
// undelivered, failed), with Twilio's error code (0: none).
func (s *Server) SetStatus(sid, status string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if m["sid"] == sid {
			m["status"] = status
			if code != 0 {
				m["error_code"] = code
			}
		}
	}
}

// SentSIDs returns the SIDs of the outbound texts to number to.
func (s *Server) SentSIDs(to string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.msgs {
		if m["direction"] == "outbound-api" && m["to"] == to {
			out = append(out, m["sid"].(string))
		}
	}
	return out
}

// Post is Twilio calling a webhook at target with params, signed with the
// account's auth token as Twilio signs (X-Twilio-Signature).
func (s *Server) Post(target string, params url.Values) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(params.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", sms.Signature(s.Token, target, params))
	return http.DefaultClient.Do(req)
}
