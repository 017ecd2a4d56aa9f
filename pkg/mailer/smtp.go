package mailer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/pi-crm/pi-crm/pkg/outbox"
)

// SMTPConfig is an SMTP account: a host and port, STARTTLS or implicit TLS,
// and an app password or an XOAUTH2 access token.
type SMTPConfig struct {
	Host     string
	Port     int
	TLS      string // "starttls" (default), "tls" (implicit, port 465) or "none" (a LAN relay, tests)
	Username string
	Password string // the app password
	Token    string // an OAuth access token, for XOAUTH2 (instead of a password)
	// Conns is how many connections send at once (default 1).
	Conns   int
	Timeout time.Duration
	// TLSConfig is for tests (a local server's own certificate).
	TLSConfig *tls.Config
}

// SMTP sends over SMTP, keeping its connections open between messages.
// SMTP keeps no record we can ask, so Lookup cannot decide: a message the
// sender lost track of stays unknown for the user.
type SMTP struct {
	cfg  SMTPConfig
	pool chan *gomail.Client // idle connections
	sem  chan struct{}       // one token a connection in use: at most Conns
}

// NewSMTP returns an SMTP provider for cfg.
func NewSMTP(cfg SMTPConfig) *SMTP {
	cfg.Conns = max(cfg.Conns, 1)
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &SMTP{cfg: cfg, pool: make(chan *gomail.Client, cfg.Conns), sem: make(chan struct{}, cfg.Conns)}
}

// Kind is "smtp".
func (*SMTP) Kind() string { return "smtp" }

// client waits for a connection slot and returns an idle connection, or
// a new one; release gives the slot back.
func (s *SMTP) client(ctx context.Context) (*gomail.Client, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, retrying(ctx.Err())
	}
	select {
	case c := <-s.pool:
		return c, nil
	default:
	}
	c, err := s.dial(ctx)
	if err != nil {
		<-s.sem
	}
	return c, err
}

func (s *SMTP) dial(ctx context.Context) (*gomail.Client, error) {
	opts := []gomail.Option{gomail.WithPort(s.cfg.Port), gomail.WithTimeout(s.cfg.Timeout), gomail.WithoutNoop()}
	switch s.cfg.TLS {
	case "tls":
		opts = append(opts, gomail.WithSSL())
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.cfg.TLSConfig != nil {
		opts = append(opts, gomail.WithTLSConfig(s.cfg.TLSConfig))
	}
	switch {
	case s.cfg.Token != "":
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthXOAUTH2), gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Token))
	case s.cfg.Username != "":
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	c, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return nil, failed(fmt.Errorf("smtp %s: %w", s.cfg.Host, err))
	}
	if err := c.DialWithContext(ctx); err != nil {
		return nil, retrying(fmt.Errorf("connect to %s:%d: %w", s.cfg.Host, s.cfg.Port, err))
	}
	return c, nil
}

// put keeps c for the next message and gives its slot back.
func (s *SMTP) put(c *gomail.Client) {
	select {
	case s.pool <- c:
	default:
		_ = c.Close()
	}
	<-s.sem
}

// Send sends m on a pooled connection. An error before the message's data
// was accepted is a retry (or a failure, for a refused address); an error
// on closing the data, after the server had the whole message, is unknown.
func (s *SMTP) Send(ctx context.Context, m *Mail) (string, error) {
	msg, err := m.Msg()
	if err != nil {
		return "", err
	}
	c, err := s.client(ctx)
	if err != nil {
		return "", err
	}
	err = c.Send(msg)
	if err == nil {
		s.put(c)
		return m.MessageID, nil
	}
	_ = c.Close()
	<-s.sem
	var se *gomail.SendError
	if errors.As(err, &se) {
		switch {
		case se.Reason == gomail.ErrSMTPDataClose || se.Reason == gomail.ErrAmbiguous:
			return "", unknown(fmt.Errorf("smtp: %w", err))
		case se.Reason == gomail.ErrSMTPRcptTo && !se.IsTemp():
			return "", failed(fmt.Errorf("smtp refused the address: %w", err))
		}
	}
	return "", retrying(fmt.Errorf("smtp: %w", err))
}

// Lookup cannot decide for SMTP.
func (*SMTP) Lookup(context.Context, *Mail, time.Time) (outbox.Verdict, string, error) {
	return outbox.Undecided, "", errors.New("an SMTP server keeps no record pi-crm can ask: resend or drop it")
}

// Close closes the pooled connections.
func (s *SMTP) Close() {
	for {
		select {
		case c := <-s.pool:
			_ = c.Close()
		default:
			return
		}
	}
}
