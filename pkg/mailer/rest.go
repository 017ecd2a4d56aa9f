package mailer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// rest calls a mail API (Gmail's, Graph's) as one signed-in account: plain
// HTTP with the account's bearer token, refreshed when the API says it is
// no longer good.
type rest struct {
	who  string // Gmail, Microsoft Graph
	base string
	hc   *http.Client
	tok  *tokens
}

// apiError is an API's answer other than 2xx.
type apiError struct {
	Status int
	Body   string
}

func (e *apiError) Error() string { return fmt.Sprintf("answered %d: %s", e.Status, e.Body) }

// call sends one request (body with its content type, or none) and
// decodes a JSON answer into out (when not nil). Its error is classified
// as a send's (see Error): a refusal fails, throttling and server errors
// retry, a request that may have been taken is unknown.
func (r *rest) call(ctx context.Context, method, url, ctype string, body []byte, out any) error {
	for try := 0; ; try++ {
		tok, err := r.tok.token(ctx, try > 0)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if err != nil {
			return failed(fmt.Errorf("%s: %w", r.who, err))
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := r.hc.Do(req)
		if err != nil {
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" {
				return retrying(fmt.Errorf("%s unreachable: %w", r.who, err))
			}
			return unknown(fmt.Errorf("%s: %w", r.who, err))
		}
		data, rerr := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized && try == 0 {
			continue // the token was revoked or ran out early: refresh once
		}
		if resp.StatusCode/100 != 2 {
			ae := &apiError{Status: resp.StatusCode, Body: strings.TrimSpace(string(data))}
			if len(ae.Body) > 300 {
				ae.Body = ae.Body[:300]
			}
			switch {
			case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 || resp.StatusCode == http.StatusForbidden && strings.Contains(ae.Body, "imit"):
				return retrying(fmt.Errorf("%s %w", r.who, ae))
			case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
				return retrying(fmt.Errorf("%s refused the sign-in (%d): sign the workspace in again", r.who, resp.StatusCode))
			default:
				return failed(fmt.Errorf("%s refused the message: %w", r.who, ae))
			}
		}
		if rerr != nil {
			return unknown(fmt.Errorf("%s: %w", r.who, rerr))
		}
		if out != nil && len(data) > 0 {
			if err := json.Unmarshal(data, out); err != nil {
				return unknown(fmt.Errorf("%s's answer: %w", r.who, err))
			}
		}
		return nil
	}
}

// status is the HTTP status of an API's refusal, or 0.
func status(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

func newREST(who, base string, tok *tokens) *rest {
	return &rest{who: who, base: strings.TrimSuffix(base, "/"), hc: &http.Client{Timeout: 30 * time.Second}, tok: tok}
}
