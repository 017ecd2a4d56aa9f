package mailer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/textproto"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

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
	// NoPipelining sends one command a round trip even where the server
	// offers PIPELINING (tests of that path).
	NoPipelining bool
	// DKIM, when set, signs every message.
	DKIM *gomail.DKIMSigner
}

// SMTP sends over SMTP, keeping its connections open between messages.
// go-mail dials, says EHLO, starts TLS and signs in (a password or
// XOAUTH2), and builds the MIME; a server that offers PIPELINING (RFC
// 2920) gets each message as two writes, MAIL, RCPT and DATA together and
// then the data, instead of five round trips. SMTP keeps no record we can
// ask, so Lookup cannot decide: a message the sender lost track of stays
// unknown for the user.
type SMTP struct {
	cfg  SMTPConfig
	gc   *gomail.Client    // the dialer: TLS and sign-in settings
	pool chan *smtp.Client // idle connections
	sem  chan struct{}     // one token a connection in use: at most Conns
}

// NewSMTP returns an SMTP provider for cfg.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	cfg.Conns = max(cfg.Conns, 1)
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	opts := []gomail.Option{gomail.WithPort(cfg.Port), gomail.WithTimeout(cfg.Timeout), gomail.WithoutNoop()}
	switch cfg.TLS {
	case "tls":
		opts = append(opts, gomail.WithSSL())
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if cfg.TLSConfig != nil {
		opts = append(opts, gomail.WithTLSConfig(cfg.TLSConfig))
	}
	switch {
	case cfg.Token != "":
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthXOAUTH2), gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Token))
	case cfg.Username != "":
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	gc, err := gomail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, failed(fmt.Errorf("smtp %s: %w", cfg.Host, err))
	}
	return &SMTP{cfg: cfg, gc: gc, pool: make(chan *smtp.Client, cfg.Conns), sem: make(chan struct{}, cfg.Conns)}, nil
}

// Kind is "smtp".
func (*SMTP) Kind() string { return "smtp" }

// client waits for a connection slot and returns an idle connection
// (reused) or a new one; put or drop gives the slot back.
func (s *SMTP) client(ctx context.Context) (c *smtp.Client, reused bool, err error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, false, retrying(ctx.Err())
	}
	select {
	case c := <-s.pool:
		return c, true, nil
	default:
	}
	c, err = s.gc.DialToSMTPClientWithContext(ctx)
	if err != nil {
		<-s.sem
		return nil, false, retrying(fmt.Errorf("connect to %s:%d: %w", s.cfg.Host, s.cfg.Port, err))
	}
	return c, false, nil
}

// put keeps c for the next message and gives its slot back.
func (s *SMTP) put(c *smtp.Client) {
	select {
	case s.pool <- c:
	default:
		_ = c.Close()
	}
	<-s.sem
}

// drop closes c, whose session is in doubt, and gives its slot back.
func (s *SMTP) drop(c *smtp.Client) {
	_ = c.Close()
	<-s.sem
}

// Send sends m on a pooled connection. An error before the message's data
// was accepted is a retry (or a failure, for a refused address); an error
// after the server had the whole message is unknown; a message the server
// accepted is sent, whatever happens to the connection afterwards.
func (s *SMTP) Send(ctx context.Context, m *Mail) (string, error) {
	msg, err := m.Msg()
	if err != nil {
		return "", err
	}
	if s.cfg.DKIM != nil {
		msg.SetDKIM(s.cfg.DKIM)
	}
	c, reused, err := s.client(ctx)
	if err != nil {
		return "", err
	}
	if ok, _ := c.Extension("PIPELINING"); ok && !s.cfg.NoPipelining {
		err := s.pipelined(c, m, msg)
		var stale *staleConn
		if errors.As(err, &stale) && reused {
			// An idle connection the server had closed: nothing was
			// taken, so once more on a new one.
			s.drop(c)
			if c, _, err = s.client(ctx); err != nil {
				return "", err
			}
			err = s.pipelined(c, m, msg)
		}
		var keep *keepConn
		switch {
		case err == nil:
			s.put(c)
			return m.MessageID, nil
		case errors.As(err, &keep):
			s.put(c)
		default:
			s.drop(c)
		}
		return "", err
	}
	err = s.gc.SendWithSMTPClient(c, msg)
	if err == nil || msg.IsDelivered() {
		// Delivered: a failed RSET afterwards only spoils the connection.
		if err == nil {
			s.put(c)
		} else {
			s.drop(c)
		}
		return m.MessageID, nil
	}
	s.drop(c)
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

// keepConn is a refusal after which the session is still good (the server
// answered every command): the connection goes back to the pool.
type keepConn struct{ error }

func (k *keepConn) Unwrap() error { return k.error }

// staleConn is a connection that failed before the server answered the
// envelope: nothing was taken.
type staleConn struct{ error }

func (k *staleConn) Unwrap() error { return k.error }

// pipelined sends msg in one transaction of two writes: MAIL, RCPT and
// DATA together, then the dot-stuffed data and its end.
func (s *SMTP) pipelined(c *smtp.Client, m *Mail, msg *gomail.Msg) error {
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	if _, err := msg.WriteTo(buf); err != nil {
		return &keepConn{failed(fmt.Errorf("write message: %w", err))}
	}
	if err := c.UpdateDeadline(s.cfg.Timeout); err != nil {
		return retrying(fmt.Errorf("smtp: %w", err))
	}
	w, from := c.Text.W, m.From
	mailCmd := "MAIL FROM:<" + from + ">"
	if ok, _ := c.Extension("8BITMIME"); ok {
		mailCmd += " BODY=8BITMIME"
	}
	for _, l := range []string{mailCmd, "RCPT TO:<" + m.To + ">", "DATA"} {
		if strings.ContainsAny(l, "\r\n") {
			return &keepConn{failed(fmt.Errorf("smtp: an address with a line break"))}
		}
		w.WriteString(l)
		w.WriteString("\r\n")
	}
	if err := w.Flush(); err != nil {
		return &staleConn{retrying(fmt.Errorf("smtp: %w", err))}
	}
	_, _, errMail := c.Text.ReadResponse(250)
	_, _, errRcpt := c.Text.ReadResponse(25)
	_, _, errData := c.Text.ReadResponse(354)
	if isNetErr(errMail) || isNetErr(errRcpt) || isNetErr(errData) {
		return &staleConn{retrying(fmt.Errorf("smtp: %w", errors.Join(errMail, errRcpt, errData)))}
	}
	if errMail != nil || errRcpt != nil || errData != nil {
		if errData == nil {
			// DATA was taken although the envelope was not: end it empty,
			// which the server refuses for want of a recipient.
			w.WriteString(".\r\n")
			if err := w.Flush(); err != nil {
				return retrying(fmt.Errorf("smtp: %w", err))
			}
			if _, _, err := c.Text.ReadResponse(250); err == nil {
				return unknown(fmt.Errorf("smtp: the server took an empty message after refusing the envelope: %w", errors.Join(errMail, errRcpt)))
			}
		}
		var te *textproto.Error
		if errors.As(errRcpt, &te) && te.Code >= 500 {
			return &keepConn{failed(fmt.Errorf("smtp refused the address: %w", errRcpt))}
		}
		if errors.As(errMail, &te) && te.Code >= 500 {
			return &keepConn{failed(fmt.Errorf("smtp refused the sender: %w", errMail))}
		}
		return &keepConn{retrying(fmt.Errorf("smtp: %w", errors.Join(errMail, errRcpt, errData)))}
	}
	writeDotted(w, buf.Bytes())
	if err := w.Flush(); err != nil {
		return unknown(fmt.Errorf("smtp: the message was cut off: %w", err))
	}
	_, _, err := c.Text.ReadResponse(250)
	var te *textproto.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te) && te.Code >= 500:
		return &keepConn{failed(fmt.Errorf("smtp refused the message: %w", err))}
	case errors.As(err, &te):
		return &keepConn{retrying(fmt.Errorf("smtp deferred the message: %w", err))}
	default:
		// The server had the whole message and did not say: reconcile.
		return unknown(fmt.Errorf("smtp: no answer after the message: %w", err))
	}
}

// isNetErr reports whether err is the connection failing, not a reply.
func isNetErr(err error) bool {
	var te *textproto.Error
	return err != nil && !errors.As(err, &te)
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeDotted writes data (CRLF lines) as SMTP DATA: a dot starting a line
// doubled, a CRLF at the end if missing, then the ending dot line.
func writeDotted(w *bufio.Writer, data []byte) {
	if len(data) > 0 && data[0] == '.' {
		w.WriteByte('.')
	}
	for {
		i := bytes.Index(data, []byte("\n."))
		if i < 0 {
			break
		}
		w.Write(data[:i+1])
		w.WriteByte('.')
		data = data[i+1:]
	}
	w.Write(data)
	if !bytes.HasSuffix(data, []byte("\r\n")) {
		w.WriteString("\r\n")
	}
	w.WriteString(".\r\n")
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
