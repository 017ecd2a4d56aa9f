// Package smtptest runs a real SMTP server (emersion/go-smtp) on loopback
// that keeps every message it accepts, for tests of mail the appliance
// sends: optionally with STARTTLS on a certificate of its own, sign-in by
// password (PLAIN) or OAuth token (XOAUTH2), addresses it refuses, a
// server that goes silent after taking a message, and one that hangs up
// on its clients. It offers PIPELINING and CHUNKING (BDAT), as go-smtp
// does.
package smtptest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/pi-crm/pi-crm/internal/testcert"
)

// Message is one accepted message.
type Message struct {
	From    string
	To      []string
	Subject string
	ID      string // the Message-Id header
	Body    string
	Raw     []byte
	User    string // who signed in to send it
}

// Options shape the server.
type Options struct {
	// TLS offers STARTTLS on a self-signed certificate; the client's
	// configuration is Server.ClientTLS.
	TLS bool
	// Passwords are the accounts that sign in with PLAIN; Tokens are the
	// OAuth access tokens XOAUTH2 takes, by account. With either, mail is
	// refused until the client signs in.
	Passwords map[string]string
	Tokens    map[string]string
	// IdleTimeout, when set, is how long the server waits for a command
	// before it says 421 and hangs up (go-smtp's read timeout).
	IdleTimeout time.Duration
}

// Server is a running SMTP server.
type Server struct {
	Addr string
	// ClientTLS trusts the server's certificate (Options.TLS).
	ClientTLS *tls.Config
	opts      Options
	mu        sync.Mutex
	msgs      []Message
	refuse    map[string]*smtp.SMTPError
	refuseMsg map[string]*smtp.SMTPError // by text in the message
	silent    bool
	conns     map[string]bool // by client address: STARTTLS starts a second session on one
	open      []*smtp.Conn
}

// Start listens on loopback until the test ends.
func Start(tb testing.TB) *Server { return StartWith(tb, Options{}) }

// StartWith listens on loopback with opts until the test ends.
func StartWith(tb testing.TB, opts Options) *Server {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{Addr: l.Addr().String(), opts: opts, refuse: map[string]*smtp.SMTPError{}, refuseMsg: map[string]*smtp.SMTPError{}, conns: map[string]bool{}}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	if opts.IdleTimeout > 0 {
		srv.ReadTimeout = opts.IdleTimeout
	}
	srv.AllowInsecureAuth = !opts.TLS
	if opts.TLS {
		c := testcert.New(tb)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{c.TLS}}
		s.ClientTLS = &tls.Config{RootCAs: c.Pool, ServerName: "127.0.0.1"}
	}
	go srv.Serve(l)
	tb.Cleanup(func() { srv.Close() })
	return s
}

// Messages returns what the server has accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Refuse makes the server answer RCPT TO addr with code (550: for good,
// 451: try later); 0 takes the address again.
func (s *Server) Refuse(addr string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		delete(s.refuse, addr)
		return
	}
	s.refuse[addr] = &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 1, 1}, Message: "mailbox unavailable"}
}

// RefuseMessage makes the server answer the data of a message holding
// text with code (554: for good, as for spam; 452: try later), as it does
// with a message its content filter rejects; 0 takes such messages again.
func (s *Server) RefuseMessage(text string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		delete(s.refuseMsg, text)
		return
	}
	s.refuseMsg[text] = &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 6, 0}, Message: "message content rejected"}
}

// GoSilent makes the server keep the next message it reads and then hang
// up without answering, as one that crashed after taking it would.
func (s *Server) GoSilent() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.silent = true
}

// HangUp closes every connection the server has open without a word, as
// a server restarted, or one that drops idle clients, does.
func (s *Server) HangUp() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.open {
		_ = c.Conn().Close()
	}
	s.open = nil
}

// Conns counts the connections the server has taken.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.s.mu.Lock()
	b.s.conns[c.Conn().RemoteAddr().String()] = true
	b.s.open = append(b.s.open, c)
	b.s.mu.Unlock()
	return &session{s: b.s, conn: c}, nil
}

type session struct {
	s    *Server
	conn *smtp.Conn
	user string
	msg  Message
}

func (x *session) Reset()        { x.msg = Message{} }
func (x *session) Logout() error { return nil }

func (x *session) needAuth() bool { return len(x.s.opts.Passwords)+len(x.s.opts.Tokens) > 0 }

func (x *session) AuthMechanisms() []string {
	var m []string
	if len(x.s.opts.Passwords) > 0 {
		m = append(m, sasl.Plain)
	}
	if len(x.s.opts.Tokens) > 0 {
		m = append(m, "XOAUTH2")
	}
	return m
}

var errAuth = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Username and Password not accepted"}

func (x *session) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error {
			if p, ok := x.s.opts.Passwords[user]; !ok || p != pass {
				return errAuth
			}
			x.user = user
			return nil
		}), nil
	case "XOAUTH2":
		return xoauth2{func(user, token string) error {
			if t, ok := x.s.opts.Tokens[user]; !ok || t != token {
				return errAuth
			}
			x.user = user
			return nil
		}}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// xoauth2 is the server side of Google's XOAUTH2: one initial response,
// "user=" user ^A "auth=Bearer " token ^A ^A.
type xoauth2 struct {
	check func(user, token string) error
}

func (o xoauth2) Next(resp []byte) ([]byte, bool, error) {
	parts := strings.Split(string(resp), "\x01")
	var user, token string
	for _, p := range parts {
		if v, ok := strings.CutPrefix(p, "user="); ok {
			user = v
		}
		if v, ok := strings.CutPrefix(p, "auth=Bearer "); ok {
			token = v
		}
	}
	if user == "" || token == "" {
		return nil, false, errors.New("malformed XOAUTH2 response")
	}
	return nil, true, o.check(user, token)
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.needAuth() && x.user == "" {
		return smtp.ErrAuthRequired
	}
	if x.msg.From != "" {
		// As Postfix: a transaction refused part-way (an address, then
		// its data) stays open until RSET.
		return &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "Error: nested MAIL command"}
	}
	x.msg.From = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	e := x.s.refuse[to]
	x.s.mu.Unlock()
	if e != nil {
		return e
	}
	x.msg.To = append(x.msg.To, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	body, err := io.ReadAll(m.Body)
	if err != nil {
		return err
	}
	x.msg.Subject, x.msg.ID, x.msg.Body, x.msg.Raw, x.msg.User = m.Header.Get("Subject"), m.Header.Get("Message-Id"), string(body), raw, x.user
	x.s.mu.Lock()
	for text, e := range x.s.refuseMsg {
		if bytes.Contains(raw, []byte(text)) {
			x.s.mu.Unlock()
			return e
		}
	}
	x.s.msgs = append(x.s.msgs, x.msg)
	silent := x.s.silent
	x.s.silent = false
	x.s.mu.Unlock()
	if silent {
		_ = x.conn.Conn().Close()
	}
	return nil
}
