// Package ai talks to a language model through any OpenAI-compatible chat
// endpoint (OpenAI itself, or llama.cpp, Ollama or vLLM on the LAN), with
// answers held to a JSON schema. It knows nothing of jobs or the
// database: crm-insights runs it from the job runner (pkg/aidraft), which
// records every call. Every failure is an *Error that says in words what
// happened and whether another try may help, and when.
package ai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// Config is where the model is and how long to wait for it.
type Config struct {
	// BaseURL is the endpoint's /v1 URL, e.g. http://192.168.1.20:8080/v1
	// for llama.cpp; empty means OpenAI's.
	BaseURL string
	Model   string
	// Key is the API key; a local server may need none. It is a
	// credential of crm-insights only, never logged or stored.
	Key string
	// Timeout bounds one call (default 2 minutes: a Pi-class local model
	// writes slowly).
	Timeout time.Duration
	// MaxTokens bounds the answer (default 2,000).
	MaxTokens int
}

// Configured reports whether a model is set.
func (c Config) Configured() bool { return c.Model != "" }

// Endpoint is the base URL as it may be shown: without any user info.
func (c Config) Endpoint() string {
	if c.BaseURL == "" {
		return "OpenAI"
	}
	u := c.BaseURL
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			u = u[:j+3] + u[i+1:]
		}
	}
	return u
}

// Client calls the model.
type Client struct {
	cfg Config
	oc  *openai.Client
}

// New returns a client for cfg.
func New(cfg Config) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = 2000
	}
	oc := openai.DefaultConfig(cfg.Key)
	if cfg.BaseURL != "" {
		oc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	}
	oc.HTTPClient = &http.Client{Transport: headerTap{http.DefaultTransport}}
	return &Client{cfg: cfg, oc: openai.NewClientWithConfig(oc)}
}

// Model is the configured model's name.
func (c *Client) Model() string { return c.cfg.Model }

// Error is a failed call.
type Error struct {
	// Message says what happened, for the page.
	Message string
	// Retry says another try may succeed (a timeout, 408, 429, 5xx);
	// RetryAfter is when the server said to come back, if it did.
	Retry      bool
	RetryAfter time.Duration
	// Status is the HTTP status, when there was an answer.
	Status int
	err    error
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.err }

// Usage is what a call cost.
type Usage struct {
	PromptTokens, CompletionTokens int
	Duration                       time.Duration
}

// headerTap keeps the Retry-After of an error answer where the call can
// read it: go-openai's errors carry no headers.
type headerTap struct{ next http.RoundTripper }

type tapKey struct{}

type tapped struct {
	retryAfter string
	date       string
}

func (h headerTap) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := h.next.RoundTrip(r)
	if err == nil && resp.StatusCode >= 400 {
		if t, ok := r.Context().Value(tapKey{}).(*tapped); ok {
			t.retryAfter, t.date = resp.Header.Get("Retry-After"), resp.Header.Get("Date")
		}
	}
	return resp, err
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date (relative
// to the answer's own Date when it has one, so a skewed clock does not
// matter), capped at ten minutes.
func parseRetryAfter(v, date string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		ref := now
		if dt, err := http.ParseTime(date); err == nil {
			ref = dt
		}
		d = t.Sub(ref)
	}
	return min(max(d, 0), 10*time.Minute)
}

// JSON asks the model for an answer to system and user that fits schema
// (a JSON Schema object) and decodes it into out. name names the schema
// for the server.
func (c *Client) JSON(ctx context.Context, system, user, name string, schema json.RawMessage, out any) (Usage, error) {
	tap := &tapped{}
	ctx, cancel := context.WithTimeout(context.WithValue(ctx, tapKey{}, tap), c.cfg.Timeout)
	defer cancel()
	start := time.Now()
	resp, err := c.oc.CreateChatCompletion(ctx, openai.ChatCompletionRequest{
		Model: c.cfg.Model,
		Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: system},
			{Role: openai.ChatMessageRoleUser, Content: user},
		},
		ResponseFormat: &openai.ChatCompletionResponseFormat{
			Type:       openai.ChatCompletionResponseFormatTypeJSONSchema,
			JSONSchema: &openai.ChatCompletionResponseFormatJSONSchema{Name: name, Schema: schema, Strict: true},
		},
		MaxCompletionTokens: c.cfg.MaxTokens,
		Temperature:         0.7,
	})
	u := Usage{Duration: time.Since(start)}
	if err != nil {
		return u, c.classify(ctx, err, tap)
	}
	u.PromptTokens, u.CompletionTokens = resp.Usage.PromptTokens, resp.Usage.CompletionTokens
	if len(resp.Choices) == 0 {
		return u, &Error{Message: "The model server answered with no choices."}
	}
	ch := resp.Choices[0]
	if ch.Message.Refusal != "" {
		return u, &Error{Message: "The model declined: " + clip(ch.Message.Refusal, 300)}
	}
	if ch.FinishReason == openai.FinishReasonLength {
		return u, &Error{Message: fmt.Sprintf("The model's answer was cut off at %d tokens before it was complete. Ask for something shorter, or raise the limit (PICRM_AI_MAX_TOKENS).", c.cfg.MaxTokens), Retry: false}
	}
	if ch.FinishReason == openai.FinishReasonContentFilter {
		return u, &Error{Message: "The model's content filter stopped the answer."}
	}
	content := strings.TrimSpace(ch.Message.Content)
	// Some local servers wrap JSON in a Markdown fence despite the schema.
	content = strings.TrimPrefix(strings.TrimSuffix(strings.TrimPrefix(content, "```json"), "```"), "```")
	dec := json.NewDecoder(strings.NewReader(content))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return u, &Error{Message: "The model's answer did not follow the requested format (" + clip(err.Error(), 120) + "): " + clip(content, 200), Retry: true, err: err}
	}
	return u, nil
}

// classify turns go-openai's and the network's errors into an *Error.
func (c *Client) classify(ctx context.Context, err error, tap *tapped) *Error {
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	var netErr net.Error
	status := 0
	msg := ""
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &Error{Message: fmt.Sprintf("The model server did not answer within %s.", c.cfg.Timeout), Retry: true, err: err}
	case errors.As(err, &apiErr):
		status = apiErr.HTTPStatusCode
		msg = apiErr.Message
	case errors.As(err, &reqErr):
		status = reqErr.HTTPStatusCode
		if reqErr.HTTPStatusCode == 0 {
			msg = "its answer could not be read"
		} else {
			msg = clip(strings.TrimSpace(string(reqErr.Body)), 200)
		}
		if reqErr.HTTPStatusCode >= 200 && reqErr.HTTPStatusCode < 300 || reqErr.HTTPStatusCode == 0 {
			return &Error{Message: "The model server's answer was not valid JSON: " + clip(fmt.Sprint(reqErr.Err), 160), Retry: true, err: err}
		}
	case errors.As(err, &netErr):
		return &Error{Message: "The model server could not be reached: " + clip(netErr.Error(), 200), Retry: true, err: err}
	default:
		var se *json.SyntaxError
		var ute *json.UnmarshalTypeError
		if errors.As(err, &se) || errors.As(err, &ute) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "invalid character") {
			return &Error{Message: "The model server's answer was not valid JSON: " + clip(err.Error(), 160), Retry: true, err: err}
		}
		return &Error{Message: "The model call failed: " + clip(err.Error(), 200), Retry: true, err: err}
	}
	e := &Error{Status: status, err: err, RetryAfter: parseRetryAfter(tap.retryAfter, tap.date, time.Now())}
	switch {
	case status == http.StatusTooManyRequests:
		e.Retry, e.Message = true, "The model server is busy (429)"
	case status == http.StatusRequestTimeout:
		e.Retry, e.Message = true, "The model server timed out (408)"
	case status == http.StatusServiceUnavailable:
		e.Retry, e.Message = true, "The model server is not ready (503; a local server may still be loading the model)"
	case status >= 500:
		e.Retry, e.Message = true, fmt.Sprintf("The model server failed (%d)", status)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Message = fmt.Sprintf("The model server refused the key (%d): check crm-insights' ai-key credential", status)
	case status == http.StatusNotFound:
		e.Message = fmt.Sprintf("The model server does not know model %q or the URL %s (404)", c.cfg.Model, c.cfg.Endpoint())
	default:
		e.Message = fmt.Sprintf("The model server refused the request (%d)", status)
	}
	if msg != "" {
		e.Message += ": " + clip(msg, 200)
	}
	e.Message += "."
	return e
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
