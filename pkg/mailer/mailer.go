// Package mailer turns an outbox message into MIME and hands it to a
// workspace's email provider: the file provider (one .eml per message under
// the data folder, for `make run` and tests), SMTP with an app password or
// XOAUTH2, and Mailgun's API. Each provider can also be asked, by our own
// Message-ID, whether a message went out: the outbox's reconciliation after
// a crash.
package mailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/url"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	pevents "github.com/pi-crm/pi-crm/pkg/events"
	"github.com/pi-crm/pi-crm/pkg/outbox"
)

// Mail is one message to send.
type Mail struct {
	OutboxID  string // our variable at providers that keep one (Mailgun's v:picrm-id)
	MessageID string // without angle brackets
	From      string
	FromName  string
	To        string
	Subject   string
	HTML      string
	Text      string
	Inline    []Image
	Headers   map[string]string // List-Unsubscribe and the like
	Date      time.Time
}

// Image is an inline image, named in the HTML as cid:CID.
type Image struct {
	CID         string
	ContentType string
	Data        []byte
}

// Provider sends the mail of one account.
type Provider interface {
	// Kind is the provider's name: file, smtp, mailgun.
	Kind() string
	// Send hands m over and returns the provider's id for it. Its errors
	// are *Error, saying whether a retry is safe and whether the message
	// may have gone out anyway.
	Send(ctx context.Context, m *Mail) (string, error)
	// Lookup asks whether m went out, by its Message-ID.
	Lookup(ctx context.Context, m *Mail, since time.Time) (outbox.Verdict, string, error)
}

// Result is what became of one message of a run: the provider's id for
// it, or an error as Send returns.
type Result struct {
	Ref string
	Err error
}

// RunSender is a Provider that sends several messages in one go, for
// fewer round trips. SendRun returns one result a message, in order, each
// as Send would have.
type RunSender interface {
	SendRun(ctx context.Context, ms []*Mail) []Result
}

// Error is a failed send, classified for the outbox.
type Error struct {
	// State is where the message goes: Retrying (nothing went out, try
	// again), Failed (it never will: a refused address) or Unknown (it
	// may have gone out: a timeout after the request was sent).
	State outbox.State
	Err   error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Classify returns the state a send error puts its message in: the
// provider's classification, or Unknown for an error that says nothing
// (the safe reading: reconcile before sending again).
func Classify(err error) outbox.State {
	var e *Error
	if errors.As(err, &e) {
		return e.State
	}
	return outbox.Unknown
}

func retrying(err error) error { return &Error{State: outbox.Retrying, Err: err} }
func failed(err error) error   { return &Error{State: outbox.Failed, Err: err} }
func unknown(err error) error  { return &Error{State: outbox.Unknown, Err: err} }

// Msg builds m's MIME message: From, To, Subject, Date, our Message-ID, a
// text part and an HTML part with its inline images.
func (m *Mail) Msg() (*gomail.Msg, error) {
	var sh shared
	return m.msg(&sh)
}

// shared is what messages built one after another mostly have in common,
// made once for them (a run's messages have one sender and are built in
// the same second): the From address, checked, and the Date.
type shared struct {
	fromName, from string
	fromAddr       *mail.Address
	sec            int64
	loc            *time.Location
	date           string
	// scratch is the memory each part's content is written into for
	// go-mail, which copies it out before it asks for the next (see
	// into).
	scratch []byte
}

// sender returns m's From address, checked: a bare address, which the
// envelope's MAIL FROM carries as it is, with m's display name.
func (sh *shared) sender(m *Mail) (*mail.Address, error) {
	if sh.fromAddr != nil && sh.fromName == m.FromName && sh.from == m.From {
		return sh.fromAddr, nil
	}
	a, err := mail.ParseAddress(m.From)
	if err == nil && (a.Name != "" || a.Address != m.From) {
		err = errors.New("not a bare address")
	}
	if err != nil {
		return nil, failed(fmt.Errorf("from %q: %w", m.From, err))
	}
	sh.fromName, sh.from, sh.fromAddr = m.FromName, m.From, &mail.Address{Name: m.FromName, Address: m.From}
	return sh.fromAddr, nil
}

// dateOf returns the Date header's value for t, now when t is zero.
func (sh *shared) dateOf(t time.Time) string {
	if t.IsZero() {
		t = time.Now()
	}
	if sec := t.Unix(); sec != sh.sec || t.Location() != sh.loc || sh.date == "" {
		sh.sec, sh.loc, sh.date = sec, t.Location(), t.Format(time.RFC1123Z)
	}
	return sh.date
}

// dotAtoms reports whether addr is two dot-atoms of RFC 5322 around one
// "@" (printable ASCII but its specials, no dot at either end or twice in
// a row), nearly every address a contact has: net/mail would parse it to
// itself with no name, so its parser is skipped (0.6% of crm-sender's
// instructions when sending). Anything else (a name, a quoted local part,
// a domain literal, spaces, UTF-8) goes to net/mail.
func dotAtoms(addr string) bool {
	at := strings.IndexByte(addr, '@')
	if at < 0 {
		return false
	}
	return dotAtom(addr[:at]) && dotAtom(addr[at+1:])
}

// dotAtom reports whether s is an RFC 5322 dot-atom: atext in runs joined
// by single dots.
func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if s[i-1] == '.' {
				return false
			}
		case c <= ' ' || c >= 0x7f:
			return false
		case strings.IndexByte(`()<>[]:;@\,"`, c) >= 0:
			return false
		}
	}
	return true
}

// msg is Msg with what sh holds from the messages built before.
func (m *Mail) msg(sh *shared) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	from, err := sh.sender(m)
	if err != nil {
		return nil, err
	}
	msg.FromMailAddress(from)
	if dotAtoms(m.To) {
		// What net/mail would make of it: the address as it is, no name.
		msg.ToMailAddress(&mail.Address{Address: m.To})
	} else if err := msg.To(m.To); err != nil {
		return nil, failed(fmt.Errorf("to %q: %w", m.To, err))
	}
	msg.Subject(m.Subject)
	msg.SetGenHeader(gomail.HeaderMessageID, "<"+m.MessageID+">")
	msg.SetGenHeader(gomail.HeaderDate, sh.dateOf(m.Date))
	for k, v := range m.Headers {
		msg.SetGenHeader(gomail.Header(k), v)
	}
	text, textEnc := sh.part(m.Text)
	html, htmlEnc := sh.part(m.HTML)
	switch {
	case m.HTML == "":
		msg.SetBodyWriter(gomail.TypeTextPlain, text, textEnc)
	case m.Text == "":
		msg.SetBodyWriter(gomail.TypeTextHTML, html, htmlEnc)
	default:
		msg.SetBodyWriter(gomail.TypeTextPlain, text, textEnc)
		msg.AddAlternativeWriter(gomail.TypeTextHTML, html, htmlEnc)
	}
	for _, img := range m.Inline {
		if err := msg.EmbedReader(img.CID, bytes.NewReader(img.Data), gomail.WithFileContentID(img.CID), gomail.WithFileContentType(gomail.ContentType(img.ContentType))); err != nil {
			return nil, failed(fmt.Errorf("inline image %s: %w", img.CID, err))
		}
	}
	return msg, nil
}

// part returns what writes body as a part's content, and its encoding: as
// it is (CRLF line ends) when it is 7-bit ASCII in lines SMTP carries
// unchanged, which a template's HTML and text usually are, and
// quoted-printable otherwise (non-ASCII letters, a line over 998 bytes).
// Quoted-printable costs more CPU than building the rest of the message,
// and would only have written every "=" as "=3D". The content is written
// from body as it is, line ends mended on the way: a copy of each body for
// go-mail to copy again was a fifth of crm-sender's garbage.
func (sh *shared) part(body string) (func(io.Writer) (int64, error), gomail.PartOption) {
	whole := func(w io.Writer) (int64, error) {
		n, err := io.WriteString(sh.into(w, len(body)), body)
		return int64(n), err
	}
	bare, ok := carried(body)
	if !ok {
		return whole, gomail.WithPartEncoding(gomail.EncodingQP)
	}
	// go-mail calls an unencoded part 8bit; its content is 7-bit here.
	if bare == 0 {
		return whole, gomail.WithPartEncoding(gomail.NoEncoding)
	}
	return func(w io.Writer) (int64, error) {
		w = sh.into(w, len(body)+bare)
		var n int64
		for rest := body; rest != ""; {
			line, end := rest, ""
			if i := strings.IndexByte(rest, '\n'); i >= 0 {
				line, rest, end = strings.TrimSuffix(rest[:i], "\r"), rest[i+1:], "\r\n"
			} else {
				rest = ""
			}
			for _, s := range [2]string{line, end} {
				k, err := io.WriteString(w, s)
				n += int64(k)
				if err != nil {
					return n, err
				}
			}
		}
		return n, nil
	}, gomail.WithPartEncoding(gomail.NoEncoding)
}

// into returns w, go-mail's buffer for a part's content, holding size
// bytes of sh's scratch memory when w is an empty bytes.Buffer: go-mail
// collects each unencoded part in a new one and copies it into the
// message at once, so one piece of memory serves every part a run
// writes, where a buffer a part was a fifth of crm-sender's garbage
// (its instructions when sending 2.689G -> 2.647G, cachegrind).
// Any other writer is returned as it is.
func (sh *shared) into(w io.Writer, size int) io.Writer {
	b, ok := w.(*bytes.Buffer)
	if !ok || b.Len() != 0 {
		return w
	}
	if cap(sh.scratch) < size {
		sh.scratch = make([]byte, 0, size)
	}
	*b = *bytes.NewBuffer(sh.scratch[:0])
	return b
}

// carried reports whether SMTP carries body as it is once its bare line
// feeds are made CRLF, and counts those: 7-bit ASCII without a NUL, every
// CR ending a line, no line over 998 bytes. Each test is a pass over the
// whole body with a fast primitive (32 bytes a step, or IndexByte),
// not a loop a line: scanning line by line cost about 3% more of
// crm-sender's instructions when sending.
func carried(body string) (bare int, ok bool) {
	if !sevenBit(body) {
		return 0, false
	}
	for rest := body; ; {
		i := strings.IndexByte(rest, '\r')
		if i < 0 {
			break
		}
		if i+1 == len(rest) || rest[i+1] != '\n' {
			return 0, false
		}
		rest = rest[i+2:]
	}
	for rest := body; ; {
		i := strings.IndexByte(rest, '\n')
		if i < 0 {
			return bare, len(rest) <= 998
		}
		n := i // the line's length without its CR
		if i > 0 && rest[i-1] == '\r' {
			n--
		} else {
			bare++
		}
		if n > 998 {
			return 0, false
		}
		rest = rest[i+1:]
	}
}

// sevenBit reports whether s is US-ASCII without a NUL: IndexByte for
// the NUL, and the high bits of 32 bytes a step gathered in one word.
func sevenBit(s string) bool {
	if strings.IndexByte(s, 0) >= 0 {
		return false
	}
	var bits uint64
	for ; len(s) >= 32; s = s[32:] {
		bits |= word(s[:8]) | word(s[8:16]) | word(s[16:24]) | word(s[24:32])
	}
	for ; len(s) >= 8; s = s[8:] {
		bits |= word(s[:8])
	}
	for i := 0; i < len(s); i++ {
		bits |= uint64(s[i])
	}
	return bits&0x8080808080808080 == 0
}

// word is the eight bytes of b as one little-endian word (one load).
func word(b string) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// MIME returns m as the bytes of a message.
func (m *Mail) MIME() ([]byte, error) {
	msg, err := m.Msg()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := msg.WriteTo(&b); err != nil {
		return nil, failed(fmt.Errorf("write message: %w", err))
	}
	return b.Bytes(), nil
}

// UnsubscribeMailto is the List-Unsubscribe of a bulk message with outbox
// id id from address from: a mailto: back to the sender whose subject
// names the message, which the reply poller turns into an unsubscribe
// (RFC 8058's one-click needs a public HTTPS address a LAN box has not).
func UnsubscribeMailto(from, id string) string {
	return "<mailto:" + from + "?subject=" + url.PathEscape(pevents.UnsubscribeSubject+" "+id) + ">"
}
