// Package sms texts through Twilio's REST API (plain HTTP: the generated
// SDK would add megabytes to a Pi binary for two calls): send a message,
// list messages to and from the appliance's number for the inbound poller
// and the reconciliation after a crash. It also counts a text's segments
// and reads the STOP/START keywords carriers and Twilio honour.
package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config is the appliance's Twilio account and number.
type Config struct {
	AccountSID string
	AuthToken  string
	From       string // E.164
	BaseURL    string // default https://api.twilio.com (tests: a local server)
	Timeout    time.Duration
}

// Configured reports whether texting can work.
func (c Config) Configured() bool { return c.AccountSID != "" && c.AuthToken != "" && c.From != "" }

// Client talks to Twilio.
type Client struct {
	cfg  Config
	http *http.Client
}

// New returns a client for cfg.
func New(cfg Config) *Client {
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://api.twilio.com"
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &Client{cfg: cfg, http: &http.Client{Timeout: cfg.Timeout}}
}

// From is the appliance's number.
func (c *Client) From() string { return c.cfg.From }

// Error is Twilio's answer to a refused request.
type Error struct {
	Status  int
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("twilio %d (error %d): %s", e.Status, e.Code, e.Message)
}

// Unsubscribed is the error of a send to a number that texted STOP.
const Unsubscribed = 21610

// Message is one text, as Twilio lists it.
type Message struct {
	SID       string `json:"sid"`
	From      string `json:"from"`
	To        string `json:"to"`
	Body      string `json:"body"`
	Direction string `json:"direction"` // inbound, outbound-api, ...
	Status    string `json:"status"`
	DateSent  string `json:"date_sent"` // RFC 1123 with a numeric zone
	ErrorCode *int   `json:"error_code"`
}

// Sent returns when the message was sent, or zero.
func (m Message) Sent() time.Time {
	t, err := time.Parse(time.RFC1123Z, m.DateSent)
	if err != nil {
		return time.Time{}
	}
	return t
}

func (c *Client) messagesURL() string {
	return c.cfg.BaseURL + "/2010-04-01/Accounts/" + url.PathEscape(c.cfg.AccountSID) + "/Messages.json"
}

// Send texts body to to from the appliance's number and returns the
// message's SID.
func (c *Client) Send(ctx context.Context, to, body string) (string, error) {
	form := url.Values{"To": {to}, "From": {c.cfg.From}, "Body": {body}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.messagesURL(), strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var m Message
	if err := c.do(req, &m); err != nil {
		return "", err
	}
	return m.SID, nil
}

// List returns the messages to and from the given numbers (either may be
// empty) sent on or after day (Twilio's filter is by day), following the
// pages.
func (c *Client) List(ctx context.Context, to, from string, day time.Time) ([]Message, error) {
	q := url.Values{"PageSize": {"1000"}}
	if to != "" {
		q.Set("To", to)
	}
	if from != "" {
		q.Set("From", from)
	}
	if !day.IsZero() {
		q.Set("DateSent>", day.UTC().Format("2006-01-02"))
	}
	next := c.messagesURL() + "?" + q.Encode()
	var out []Message
	for pages := 0; next != "" && pages < 50; pages++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return out, err
		}
		var page struct {
			Messages    []Message `json:"messages"`
			NextPageURI string    `json:"next_page_uri"`
		}
		if err := c.do(req, &page); err != nil {
			return out, err
		}
		out = append(out, page.Messages...)
		next = ""
		if page.NextPageURI != "" {
			next = c.cfg.BaseURL + page.NextPageURI
		}
	}
	return out, nil
}

func (c *Client) do(req *http.Request, into any) error {
	req.SetBasicAuth(c.cfg.AccountSID, c.cfg.AuthToken)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		e := &Error{Status: resp.StatusCode}
		_ = json.Unmarshal(b, e)
		if e.Message == "" {
			e.Message = strings.TrimSpace(string(b))
		}
		return e
	}
	return json.Unmarshal(b, into)
}

// Dialled reports whether err is a connection that was never made: the
// request did not leave.
func Dialled(err error) bool {
	var op *net.OpError
	return !(errors.As(err, &op) && op.Op == "dial")
}

// gsm7 is the GSM 03.38 basic character set: a text of only these is
// encoded 7 bits a character (160 to a segment); anything else makes it
// UCS-2 (70). The extension characters count twice.
const gsm7 = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
const gsm7ext = "^{}\\[~]|€\f"

// Segments returns how many SMS segments body takes and whether it needs
// UCS-2 (an emoji, a Vietnamese letter): 160 GSM characters in one, 153 a
// segment beyond; 70 UTF-16 units in one, 67 beyond.
func Segments(body string) (segments int, unicode bool) {
	units := 0
	for _, r := range body {
		switch {
		case strings.ContainsRune(gsm7, r):
			units++
		case strings.ContainsRune(gsm7ext, r):
			units += 2
		default:
			unicode = true
		}
	}
	if unicode {
		n := 0
		for _, r := range body {
			n++
			if r >= 0x10000 {
				n++ // a surrogate pair
			}
		}
		if n <= 70 {
			return 1, true
		}
		return (n + 66) / 67, true
	}
	if units <= 160 {
		return 1, false
	}
	return (units + 152) / 153, false
}

// Keyword is what a one-word reply asks for.
type Keyword int

// Keywords.
const (
	NoKeyword Keyword = iota
	Stop
	Start
)

// KeywordOf reads a reply's body as Twilio does: the whole message, one
// word, any case, surrounding spaces and punctuation ignored.
func KeywordOf(body string) Keyword {
	w := strings.ToUpper(strings.Trim(strings.TrimSpace(body), ".!? "))
	switch w {
	case "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT":
		return Stop
	case "START", "YES", "UNSTOP":
		return Start
	}
	return NoKeyword
}
