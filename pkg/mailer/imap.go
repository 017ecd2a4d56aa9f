package mailer

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/client"
	"github.com/emersion/go-sasl"

	pevents "github.com/pi-crm/pi-crm/pkg/events"
)

// IMAPConfig is where an SMTP account's inbox is read for replies and
// unsubscribes: the same account's IMAP server, signed in to with the same
// app password or XOAUTH2 token.
type IMAPConfig struct {
	Host     string
	Port     int    // default 993
	TLS      string // "tls" (default, implicit), "starttls" or "none" (tests)
	Username string
	Password string
	Token    string // XOAUTH2, instead of a password
	Timeout  time.Duration
	// TLSConfig is for tests (a local server's own certificate).
	TLSConfig *tls.Config
}

// IMAP reads one account's INBOX by UID. Its cursor is the mailbox's
// UIDVALIDITY and the last UID read; a new UIDVALIDITY (the server
// renumbered the mailbox) reads the last two days again, each email being
// recorded once anyway.
type IMAP struct{ cfg IMAPConfig }

// NewIMAP returns a reader for cfg.
func NewIMAP(cfg IMAPConfig) *IMAP {
	if cfg.Port == 0 {
		cfg.Port = 993
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &IMAP{cfg: cfg}
}

func (m *IMAP) dial() (*client.Client, error) {
	addr := net.JoinHostPort(m.cfg.Host, strconv.Itoa(m.cfg.Port))
	d := &net.Dialer{Timeout: m.cfg.Timeout}
	tc := m.cfg.TLSConfig
	if tc == nil {
		tc = &tls.Config{ServerName: m.cfg.Host}
	}
	var c *client.Client
	var err error
	switch m.cfg.TLS {
	case "none", "starttls":
		c, err = client.DialWithDialer(d, addr)
		if err == nil && m.cfg.TLS == "starttls" {
			if err = c.StartTLS(tc); err != nil {
				_ = c.Logout()
			}
		}
	default:
		c, err = client.DialWithDialerTLS(d, addr, tc)
	}
	if err != nil {
		return nil, fmt.Errorf("imap %s: %w", addr, err)
	}
	c.Timeout = m.cfg.Timeout
	if m.cfg.Token != "" {
		err = c.Authenticate(xoauth2Client{m.cfg.Username, m.cfg.Token})
	} else {
		err = c.Login(m.cfg.Username, m.cfg.Password)
	}
	if err != nil {
		_ = c.Logout()
		return nil, fmt.Errorf("imap sign-in as %s: %w", m.cfg.Username, err)
	}
	return c, nil
}

// Inbox returns the emails that came in to INBOX since cursor and the
// cursor to ask from next. With no cursor it only notes where the mailbox
// stands.
func (m *IMAP) Inbox(ctx context.Context, cursor string) ([]pevents.Email, string, error) {
	c, err := m.dial()
	if err != nil {
		return nil, cursor, err
	}
	defer c.Logout()
	stop := context.AfterFunc(ctx, func() { _ = c.Terminate() })
	defer stop()
	mbox, err := c.Select("INBOX", true)
	if err != nil {
		return nil, cursor, fmt.Errorf("imap select INBOX: %w", err)
	}
	validity, last, ok := parseIMAPCursor(cursor)
	var uids []uint32
	switch {
	case ok && validity == mbox.UidValidity:
		set := new(imap.SeqSet)
		set.AddRange(last+1, 0) // last+1:*
		crit := imap.NewSearchCriteria()
		crit.Uid = set
		if uids, err = c.UidSearch(crit); err != nil {
			return nil, cursor, fmt.Errorf("imap search: %w", err)
		}
	case !ok:
		// The first read: from here on.
		if mbox.UidNext > 0 {
			return nil, imapCursor(mbox.UidValidity, mbox.UidNext-1), nil
		}
		all, err := c.UidSearch(imap.NewSearchCriteria())
		if err != nil {
			return nil, cursor, fmt.Errorf("imap search: %w", err)
		}
		return nil, imapCursor(mbox.UidValidity, maxUID(all)), nil
	default:
		last = 0
		crit := imap.NewSearchCriteria()
		crit.Since = time.Now().Add(-48 * time.Hour)
		if uids, err = c.UidSearch(crit); err != nil {
			return nil, cursor, fmt.Errorf("imap search: %w", err)
		}
	}
	var want []uint32
	for _, u := range uids {
		if u > last { // "n:*" also answers the highest message when it is below n
			want = append(want, u)
		}
	}
	next := imapCursor(mbox.UidValidity, max(last, maxUID(want)))
	if len(want) == 0 {
		return nil, next, nil
	}
	set := new(imap.SeqSet)
	set.AddNum(want...)
	refs := &imap.BodySectionName{BodyPartName: imap.BodyPartName{Specifier: imap.HeaderSpecifier, Fields: []string{"References", "Content-Type"}}, Peek: true}
	text := &imap.BodySectionName{BodyPartName: imap.BodyPartName{Specifier: imap.TextSpecifier}, Peek: true, Partial: []int{0, 2048}}
	ch := make(chan *imap.Message, 16)
	done := make(chan error, 1)
	go func() {
		done <- c.UidFetch(set, []imap.FetchItem{imap.FetchUid, imap.FetchEnvelope, imap.FetchInternalDate, refs.FetchItem(), text.FetchItem()}, ch)
	}()
	var mails []pevents.Email
	for msg := range ch {
		if msg.Envelope == nil {
			continue
		}
		e := pevents.Email{Provider: KindSMTP, ID: strconv.FormatUint(uint64(mbox.UidValidity), 10) + ":" + strconv.FormatUint(uint64(msg.Uid), 10),
			Subject: msg.Envelope.Subject, MessageID: msg.Envelope.MessageId, InReplyTo: msg.Envelope.InReplyTo, At: msg.InternalDate}
		if len(msg.Envelope.From) > 0 {
			e.From, e.FromName = strings.ToLower(msg.Envelope.From[0].Address()), msg.Envelope.From[0].PersonalName
		}
		h := readHeader(msg.GetBody(refs))
		e.References = strings.Fields(h.Get("References"))
		e.Snippet = snippetOf(msg.GetBody(text), h.Get("Content-Type"))
		mails = append(mails, e)
	}
	if err := <-done; err != nil {
		return nil, cursor, fmt.Errorf("imap fetch: %w", err)
	}
	return mails, next, nil
}

func imapCursor(validity, uid uint32) string {
	return strconv.FormatUint(uint64(validity), 10) + ":" + strconv.FormatUint(uint64(uid), 10)
}

func parseIMAPCursor(c string) (validity, uid uint32, ok bool) {
	a, b, found := strings.Cut(c, ":")
	v, err1 := strconv.ParseUint(a, 10, 32)
	u, err2 := strconv.ParseUint(b, 10, 32)
	if !found || err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uint32(v), uint32(u), true
}

func maxUID(uids []uint32) uint32 {
	var m uint32
	for _, u := range uids {
		m = max(m, u)
	}
	return m
}

func readHeader(r io.Reader) textproto.MIMEHeader {
	if r == nil {
		return textproto.MIMEHeader{}
	}
	h, err := textproto.NewReader(bufio.NewReader(r)).ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return textproto.MIMEHeader{}
	}
	return h
}

// snippetOf is the start of a message's text for the attention list: its
// first lines, a multipart's part headers and boundaries left out.
func snippetOf(r io.Reader, ctype string) string {
	if r == nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(r, 2048))
	var out []string
	inPartHeader := false
	for _, l := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "--"):
			inPartHeader = strings.HasPrefix(strings.ToLower(ctype), "multipart/")
			continue
		case inPartHeader:
			if l == "" {
				inPartHeader = false
			}
			continue
		case l == "" || strings.HasPrefix(l, ">"):
			continue
		}
		out = append(out, l)
		if len(strings.Join(out, " ")) > 200 {
			break
		}
	}
	return strings.Join(out, " ")
}

// xoauth2Client is the client side of XOAUTH2 for IMAP (go-sasl has none).
type xoauth2Client struct{ user, token string }

func (x xoauth2Client) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

// Next answers the server's error challenge with an empty response, as
// XOAUTH2 asks, so the server can send its final refusal.
func (x xoauth2Client) Next([]byte) ([]byte, error) { return []byte{}, nil }

var _ sasl.Client = xoauth2Client{}

// smtpWithInbox is an SMTP account whose inbox is read over IMAP.
type smtpWithInbox struct {
	*SMTP
	in *IMAP
}

// Inbox reads the account's inbox over IMAP.
func (s smtpWithInbox) Inbox(ctx context.Context, cursor string) ([]pevents.Email, string, error) {
	return s.in.Inbox(ctx, cursor)
}
