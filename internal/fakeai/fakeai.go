// Package fakeai is an OpenAI-compatible chat completions server on
// loopback for tests: it answers POST /v1/chat/completions with what the
// test scripted (a draft, an error as OpenAI or llama.cpp write them, a
// malformed body, a hang) and records every request it got.
package fakeai

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Answer is one scripted response.
type Answer struct {
	Status  int               // default 200
	Header  map[string]string // e.g. Retry-After
	Body    string            // sent as is when set
	Content string            // else: a completion whose message content is this
	Finish  string            // finish_reason (default "stop")
	Refusal string
	Hang    time.Duration // wait this long before answering (or until the client goes)
}

// Request is what the server got.
type Request struct {
	At       time.Time
	Model    string
	System   string
	User     string
	Schema   json.RawMessage
	Auth     string
	RawBody  string
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
}

// Server is the fake.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	script   []Answer
	fallback Answer
	requests []Request
	got      chan struct{}
}

// New starts a server that answers with fallback once the script runs out.
func New(fallback Answer) *Server {
	s := &Server{fallback: fallback, got: make(chan struct{}, 1000)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the base URL to configure: the server's /v1.
func (s *Server) URL() string { return s.Server.URL + "/v1" }

// Then queues answers for the next requests, in order.
func (s *Server) Then(a ...Answer) {
	s.mu.Lock()
	s.script = append(s.script, a...)
	s.mu.Unlock()
}

// Requests returns what the server got so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Got is signalled on every request, as it arrives.
func (s *Server) Got() <-chan struct{} { return s.got }

// DraftJSON is a draft answer's content.
func DraftJSON(subject, preheader, body string) string {
	b, _ := json.Marshal(map[string]string{"subject": subject, "preheader": preheader, "body_html": body})
	return string(b)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/chat/completions" {
		http.NotFound(w, r)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var in struct {
		Model          string `json:"model"`
		ResponseFormat struct {
			JSONSchema struct {
				Schema json.RawMessage `json:"schema"`
			} `json:"json_schema"`
		} `json:"response_format"`
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
	}
	_ = json.Unmarshal(raw, &in)
	req := Request{At: time.Now(), Model: in.Model, Schema: in.ResponseFormat.JSONSchema.Schema, Auth: r.Header.Get("Authorization"), RawBody: string(raw), Messages: in.Messages}
	for _, m := range in.Messages {
		switch m.Role {
		case "system":
			req.System = m.Content
		case "user":
			req.User = m.Content
		}
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	a := s.fallback
	if len(s.script) > 0 {
		a, s.script = s.script[0], s.script[1:]
	}
	s.mu.Unlock()
	select {
	case s.got <- struct{}{}:
	default:
	}
	if a.Hang > 0 {
		select {
		case <-time.After(a.Hang):
		case <-r.Context().Done():
			return
		}
	}
	for k, v := range a.Header {
		w.Header().Set(k, v)
	}
	status := a.Status
	if status == 0 {
		status = http.StatusOK
	}
	if a.Body != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, a.Body)
		return
	}
	finish := a.Finish
	if finish == "" {
		finish = "stop"
	}
	msg := map[string]any{"role": "assistant", "content": a.Content}
	if a.Refusal != "" {
		msg["refusal"] = a.Refusal
	}
	out := map[string]any{
		"id": fmt.Sprintf("chatcmpl-%d", time.Now().UnixNano()), "object": "chat.completion", "created": time.Now().Unix(), "model": in.Model,
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}},
		"usage":   map[string]int{"prompt_tokens": 321, "completion_tokens": 123, "total_tokens": 444},
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(out)
}
