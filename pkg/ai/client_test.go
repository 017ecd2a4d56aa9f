package ai_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pi-crm/pi-crm/internal/fakeai"
	"github.com/pi-crm/pi-crm/pkg/ai"
)

func brief() ai.Brief {
	return ai.Brief{Goal: "Announce a rate drop", Audience: "Past clients", Tone: "Friendly", MustHaves: "Call me at 555-0100",
		Prompt: "Keep it under 120 words", Workspace: "Loan Factory", List: "Past Clients", Sender: "Andy",
		Placeholders: []string{"first_name", "unsubscribe_url"}}
}

func TestDraftCarriesTheBriefAndDecodes(t *testing.T) {
	srv := fakeai.New(fakeai.Answer{Content: fakeai.DraftJSON("Rates just dropped", "Time to look again", "<p>Hi {{first_name}}</p>")})
	defer srv.Close()
	c := ai.New(ai.Config{BaseURL: srv.URL(), Model: "llama-3.1-8b", Key: "sk-test-secret"})
	d, u, err := c.Draft(context.Background(), brief())
	if err != nil {
		t.Fatal(err)
	}
	if d.Subject != "Rates just dropped" || d.Body != "<p>Hi {{first_name}}</p>" || u.PromptTokens != 321 || u.CompletionTokens != 123 {
		t.Fatalf("draft %+v usage %+v", d, u)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	for _, want := range []string{"Goal: Announce a rate drop", "Audience: Past clients", "Tone: Friendly", "Must include: Call me at 555-0100",
		"Business line: Loan Factory", "Recipients' list: Past Clients", "Request: Keep it under 120 words", "Sender: Andy"} {
		if !strings.Contains(r.User, want) {
			t.Errorf("the prompt lacks %q:\n%s", want, r.User)
		}
	}
	if !strings.Contains(r.System, "{{first_name}}") || !strings.Contains(string(r.Schema), "body_html") || r.Model != "llama-3.1-8b" || r.Auth != "Bearer sk-test-secret" {
		t.Errorf("request: model %q auth %q schema %s system %q", r.Model, r.Auth, r.Schema, r.System)
	}
	// A revision carries the draft and the comment.
	b := brief()
	b.Previous, b.Comment = &d, "Shorter, and mention the holiday"
	if _, _, err := c.Draft(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if u := srv.Requests()[1].User; !strings.Contains(u, "Revise this draft") || !strings.Contains(u, "Rates just dropped") || !strings.Contains(u, "mention the holiday") {
		t.Errorf("revision prompt:\n%s", u)
	}
}

func TestDraftErrorsAreReadable(t *testing.T) {
	date := time.Now().UTC()
	cases := []struct {
		name       string
		answer     fakeai.Answer
		says       string
		retry      bool
		retryAfter time.Duration
	}{
		{"429 seconds", fakeai.Answer{Status: 429, Header: map[string]string{"Retry-After": "7"}, Body: `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`},
			"busy (429): Rate limit reached", true, 7 * time.Second},
		{"429 date", fakeai.Answer{Status: 429, Header: map[string]string{"Retry-After": date.Add(30 * time.Second).Format(http.TimeFormat), "Date": date.Format(http.TimeFormat)},
			Body: `{"error":{"message":"slow down","type":"requests"}}`}, "busy (429)", true, 30 * time.Second},
		{"llama.cpp 500 integer code", fakeai.Answer{Status: 500, Body: `{"error":{"code":500,"message":"failed to decode prompt","type":"server_error"}}`},
			"failed (500): failed to decode prompt", true, 0},
		{"503 loading", fakeai.Answer{Status: 503, Body: `{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}`},
			"still be loading the model", true, 0},
		{"502 html", fakeai.Answer{Status: 502, Body: `<html><body>Bad Gateway</body></html>`}, "failed (502)", true, 0},
		{"401", fakeai.Answer{Status: 401, Body: `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}`}, "refused the key", false, 0},
		{"malformed", fakeai.Answer{Body: `{"id": "x", "choices": [`}, "not valid JSON", true, 0},
		{"schema broken", fakeai.Answer{Content: `{"title": "Hi", "text": "body"}`}, "did not follow the requested format", true, 0},
		{"not JSON content", fakeai.Answer{Content: `Sure! Here is your email: Hi there`}, "did not follow the requested format", true, 0},
		{"missing body", fakeai.Answer{Content: `{"subject": "Hi", "preheader": "", "body_html": ""}`}, "left out body_html", true, 0},
		{"truncated", fakeai.Answer{Content: `{"subject": "Hi", "pre`, Finish: "length"}, "cut off at 2000 tokens", false, 0},
		{"refused", fakeai.Answer{Refusal: "I can't help with that."}, "declined: I can't help with that.", false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakeai.New(tc.answer)
			defer srv.Close()
			_, _, err := ai.New(ai.Config{BaseURL: srv.URL(), Model: "m"}).Draft(context.Background(), brief())
			var e *ai.Error
			if !errors.As(err, &e) {
				t.Fatalf("want *ai.Error, got %T %v", err, err)
			}
			if !strings.Contains(e.Message, tc.says) || e.Retry != tc.retry {
				t.Fatalf("got %q (retry %v), want it to say %q (retry %v)", e.Message, e.Retry, tc.says, tc.retry)
			}
			if tc.retryAfter > 0 && (e.RetryAfter < tc.retryAfter-time.Second || e.RetryAfter > tc.retryAfter+time.Second) {
				t.Fatalf("retry after %s, want %s", e.RetryAfter, tc.retryAfter)
			}
			if strings.Contains(e.Message, "sk-") {
				t.Fatal("the key is in the message")
			}
		})
	}
	t.Run("hung server", func(t *testing.T) {
		srv := fakeai.New(fakeai.Answer{Hang: time.Minute})
		defer srv.Close()
		start := time.Now()
		_, _, err := ai.New(ai.Config{BaseURL: srv.URL(), Model: "m", Timeout: 300 * time.Millisecond}).Draft(context.Background(), brief())
		var e *ai.Error
		if !errors.As(err, &e) || !strings.Contains(e.Message, "did not answer within 300ms") || !e.Retry || time.Since(start) > 5*time.Second {
			t.Fatalf("hung: %v after %s", err, time.Since(start))
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		_, _, err := ai.New(ai.Config{BaseURL: "http://127.0.0.1:1/v1", Model: "m"}).Draft(context.Background(), brief())
		var e *ai.Error
		if !errors.As(err, &e) || !strings.Contains(e.Message, "could not be reached") || !e.Retry {
			t.Fatalf("unreachable: %v", err)
		}
	})
}

func TestEndpointHidesUserInfo(t *testing.T) {
	if got := (ai.Config{BaseURL: "https://user:secret@llm.lan/v1"}).Endpoint(); got != "https://llm.lan/v1" {
		t.Fatalf("Endpoint() = %q", got)
	}
}
