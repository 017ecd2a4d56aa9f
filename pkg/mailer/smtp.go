package mailer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/textproto"
	"strconv"
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
	// NoChunking sends each message's data with DATA where the server
	// offers CHUNKING too (tests of that path).
	NoChunking bool
	// DKIM, when set, signs every message.
	DKIM *gomail.DKIMSigner
}

// SMTP sends over SMTP, keeping its connections open between messages.
// go-mail dials, says EHLO, starts TLS and signs in (a password or
// XOAUTH2), and builds the MIME. A server that offers PIPELINING (RFC
// 2920) gets a run of messages (SendRun) in few writes instead of five
// round trips a message: with CHUNKING too (RFC 3030: Gmail, Outlook,
// Postfix), the whole run in two; without it, a message's data with the
// next one's MAIL, RCPT and DATA. SMTP keeps no record we can ask, so
// Lookup cannot decide: a message the sender lost track of stays unknown
// for the user.
type SMTP struct {
	cfg  SMTPConfig
	gc   *gomail.Client    // the dialer: TLS and sign-in settings
	pool chan *smtp.Client // idle connections
	sem  chan struct{}     // one token a connection in use: at most Conns
	// runs holds the *bufio.Writer a chunked run is written through, of
	// runBuffer bytes (see chunked).
	runs sync.Pool
	// mimes holds the *bytes.Buffer each message's MIME is written into
	// for a pipelined run.
	mimes sync.Pool
}

// runBuffer is the size of a chunked run's write buffer: a run of eight
// template messages (about 20 KB with their commands) goes to the socket
// in one write, where the connection's own 4 KB buffer made one a
// message or more.
const runBuffer = 32 << 10

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

// Send sends m on a pooled connection: a run of one.
func (s *SMTP) Send(ctx context.Context, m *Mail) (string, error) {
	r := s.SendRun(ctx, []*Mail{m})[0]
	return r.Ref, r.Err
}

// SendRun sends ms on pooled connections, one result a message: on a
// server that offers PIPELINING and CHUNKING, with BDAT, the run in two
// writes and two waits for the server (chunked); with PIPELINING alone,
// each message's data in one write with the next message's MAIL, RCPT
// and DATA, n+1 writes and waits for n messages (pipelined); otherwise one
// command a round trip.
//
// An error before a message's data was sent is a retry (or a failure,
// for a refused address); an error after the server may have had the
// whole message is unknown; a message the server accepted is sent,
// whatever happens to the connection afterwards. When a connection breaks,
// the messages the server had none of go on a new connection; an idle
// connection the server had closed took nothing, so its first message
// does too.
func (s *SMTP) SendRun(ctx context.Context, ms []*Mail) []Result {
	out := make([]Result, len(ms))
	msgs := make([]*gomail.Msg, len(ms))
	data := make([]*bytes.Buffer, len(ms))
	defer func() {
		for _, b := range data {
			if b != nil {
				s.mimes.Put(b)
			}
		}
	}()
	var todo []int
	var sh shared
	for i, m := range ms {
		if strings.ContainsAny(m.From, "\r\n") || strings.ContainsAny(m.To, "\r\n") {
			out[i].Err = failed(errors.New("smtp: an address with a line break"))
			continue
		}
		msg, err := m.msg(&sh)
		if err != nil {
			out[i].Err = err
			continue
		}
		if s.cfg.DKIM != nil {
			msg.SetDKIM(s.cfg.DKIM)
		}
		msgs[i] = msg
		todo = append(todo, i)
	}
	for len(todo) > 0 {
		c, reused, err := s.client(ctx)
		if err != nil {
			for _, i := range todo {
				out[i].Err = err
			}
			break
		}
		if ok, _ := c.Extension("PIPELINING"); !ok || s.cfg.NoPipelining {
			i := todo[0]
			todo = todo[1:]
			out[i].Ref, out[i].Err = s.sendPlain(c, ms[i], msgs[i])
			continue
		}
		// The MIME is written only for a pipelined session: go-mail
		// writes its own for one command a round trip.
		if todo = s.writeMIME(msgs, data, todo, out); len(todo) == 0 {
			s.put(c)
			break
		}
		pipe := s.pipelined
		if ok, _ := c.Extension("CHUNKING"); ok && !s.cfg.NoChunking && size(data, todo) <= chunkedMax {
			pipe = s.chunked
		}
		n, err := pipe(c, ms, data, todo, out)
		if err != nil { // nothing taken: the first message's envelope found no server
			if reused {
				continue // an idle connection the server had closed: on a new one
			}
			for _, i := range todo {
				out[i].Err = err
			}
			break
		}
		todo = todo[n:]
	}
	return out
}

// size is the data of the messages todo names, in bytes.
func size(data []*bytes.Buffer, todo []int) int {
	n := 0
	for _, i := range todo {
		n += data[i].Len()
	}
	return n
}

// writeMIME writes into data the MIME of each message todo names that has
// none yet, and returns todo without those that could not be written,
// which fail in out.
func (s *SMTP) writeMIME(msgs []*gomail.Msg, data []*bytes.Buffer, todo []int, out []Result) []int {
	kept := todo[:0]
	for _, i := range todo {
		if data[i] == nil {
			b, _ := s.mimes.Get().(*bytes.Buffer)
			if b == nil {
				b = new(bytes.Buffer)
			}
			b.Reset()
			data[i] = b
			if _, err := msgs[i].WriteTo(b); err != nil {
				out[i].Err = failed(fmt.Errorf("write message: %w", err))
				continue
			}
		}
		kept = append(kept, i)
	}
	return kept
}

// sendPlain sends msg on c one command a round trip (go-mail's way), for a
// server without PIPELINING; it puts c back or drops it.
func (s *SMTP) sendPlain(c *smtp.Client, m *Mail, msg *gomail.Msg) (string, error) {
	err := s.gc.SendWithSMTPClient(c, msg)
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

// pipelined sends the messages todo names (indexes of ms, data and out)
// on c, each message's data and the next one's envelope in one write,
// stores each decided message's result in out and returns how many it
// decided, in order. It puts c back, or drops it when it broke; the
// messages after those decided were not taken. A connection that fails
// before the first envelope's answer decides none and returns the error,
// a retry.
func (s *SMTP) pipelined(c *smtp.Client, ms []*Mail, data []*bytes.Buffer, todo []int, out []Result) (int, error) {
	if err := c.UpdateDeadline(s.cfg.Timeout); err != nil {
		s.drop(c)
		return 0, retrying(fmt.Errorf("smtp: %w", err))
	}
	w := c.Text.W
	envelope := envelopeWriter(c, w, "DATA\r\n")
	// RSET first ends whatever the last run left open, and after a
	// refused envelope before the next: a transaction refused part-way
	// stays open, and Postfix refuses the next MAIL as nested.
	reset := true
	w.WriteString("RSET\r\n")
	envelope(ms[todo[0]])
	if err := w.Flush(); err != nil {
		s.drop(c)
		return 0, retrying(fmt.Errorf("smtp: %w", err))
	}
	for k, i := range todo {
		// Each message has the whole timeout, as when sent alone (the
		// first's was set above).
		if k > 0 {
			if err := c.UpdateDeadline(s.cfg.Timeout); err != nil {
				s.drop(c)
				return k, nil // its data was not written: it goes on a new connection
			}
		}
		var errRset error
		if reset {
			_, _, errRset = c.Text.ReadResponse(250)
			reset = false
		}
		errMail, errRcpt, errData := readEnvelope(c)
		if isNetErr(errRset) || isNetErr(errMail) || isNetErr(errRcpt) || isNetErr(errData) {
			// The connection broke before this message's data: none of
			// it was taken.
			s.drop(c)
			if k == 0 {
				return 0, retrying(fmt.Errorf("smtp: %w", errors.Join(errRset, errMail, errRcpt, errData)))
			}
			return k, nil
		}
		next := func() {
			if k+1 < len(todo) {
				if reset {
					w.WriteString("RSET\r\n")
				}
				envelope(ms[todo[k+1]])
			}
		}
		if errMail != nil || errRcpt != nil || errData != nil {
			if errData == nil {
				// DATA was taken although the envelope was not: end it
				// empty, which the server refuses for want of a recipient.
				w.WriteString(".\r\n")
			}
			reset = true
			next()
			if err := w.Flush(); err != nil {
				out[i].Err = retrying(fmt.Errorf("smtp: %w", err))
				s.drop(c)
				return k + 1, nil
			}
			if errData == nil {
				if _, _, err := c.Text.ReadResponse(250); err == nil {
					out[i].Err = unknown(fmt.Errorf("smtp: the server took an empty message after refusing the envelope: %w", errors.Join(errMail, errRcpt)))
					continue
				} else if isNetErr(err) {
					out[i].Err = refusedEnvelope(errMail, errRcpt, errData)
					s.drop(c)
					return k + 1, nil
				}
			}
			out[i].Err = refusedEnvelope(errMail, errRcpt, errData)
			continue
		}
		writeDotted(w, data[i].Bytes())
		next()
		if err := w.Flush(); err != nil {
			out[i].Err = unknown(fmt.Errorf("smtp: the message was cut off: %w", err))
			s.drop(c)
			return k + 1, nil
		}
		_, _, err := c.Text.ReadResponse(250)
		if isNetErr(err) {
			// The server had the whole message and did not say: reconcile.
			out[i].Err = unknown(fmt.Errorf("smtp: no answer after the message: %w", err))
			s.drop(c)
			return k + 1, nil
		}
		out[i] = dataAnswered(ms[i], err)
	}
	s.put(c)
	return len(todo), nil
}

// chunkedMax is the most data a chunked run writes before it reads an
// answer: a run with more (large inline images) goes with DATA, a message
// a round trip, which its size makes no slower.
const chunkedMax = 1 << 20

// chunked sends the messages todo names on c as pipelined does, with BDAT
// (RFC 3030) instead of DATA, for a server that offers CHUNKING as well as
// PIPELINING. The first message's MAIL and RCPT go alone, and their
// answers show the session is alive (an idle connection the server had
// closed took nothing: the run goes on a new one), after an RSET that
// ends whatever the last run left open. Then the rest of the run goes in
// one write, the first message's BDAT with its data and each
// further message as RSET, MAIL, RCPT and BDAT with its data, and the
// answers are read in order. A run is two waits for the server, where
// DATA's are one a message, and no data is dot-stuffed.
//
// RSET before each further message ends whatever the one before left
// open (a refused RCPT leaves its MAIL standing, and the next MAIL would
// be refused as nested). The price of writing ahead: when the connection
// breaks after the data went, every message not yet answered is unknown,
// not only the one in flight (at most a run). A 421 (the server is
// closing) as the last answer before the break means the messages after
// it were not taken: they go on a new connection.
func (s *SMTP) chunked(c *smtp.Client, ms []*Mail, data []*bytes.Buffer, todo []int, out []Result) (int, error) {
	if err := c.UpdateDeadline(s.cfg.Timeout); err != nil {
		s.drop(c)
		return 0, retrying(fmt.Errorf("smtp: %w", err))
	}
	// The run goes through a buffer of its own into the connection's,
	// which passes a full one straight to the socket.
	w, _ := s.runs.Get().(*bufio.Writer)
	if w == nil {
		w = bufio.NewWriterSize(c.Text.W, runBuffer)
	} else {
		w.Reset(c.Text.W)
	}
	defer func() {
		w.Reset(nil)
		s.runs.Put(w)
	}()
	flush := func() error {
		if err := w.Flush(); err != nil {
			return err
		}
		return c.Text.W.Flush()
	}
	envelope := envelopeWriter(c, w, "")
	first := todo[0]
	w.WriteString("RSET\r\n")
	envelope(ms[first])
	if err := flush(); err != nil {
		s.drop(c)
		return 0, retrying(fmt.Errorf("smtp: %w", err))
	}
	_, _, errRset := c.Text.ReadResponse(250)
	_, _, errMail := c.Text.ReadResponse(250)
	_, _, errRcpt := c.Text.ReadResponse(25)
	if isNetErr(errRset) || isNetErr(errMail) || isNetErr(errRcpt) || closes(errRset) || closes(errMail) || closes(errRcpt) {
		// No data went: nothing was taken.
		s.drop(c)
		return 0, retrying(fmt.Errorf("smtp: %w", errors.Join(errRset, errMail, errRcpt)))
	}
	refused := errMail != nil || errRcpt != nil
	if refused {
		out[first].Err = refusedEnvelope(errMail, errRcpt, nil)
		if len(todo) == 1 {
			s.put(c)
			return 1, nil
		}
	}
	for k, i := range todo {
		if k > 0 {
			w.WriteString("RSET\r\n")
			envelope(ms[i])
		} else if refused {
			continue
		}
		w.WriteString("BDAT ")
		w.Write(strconv.AppendInt(w.AvailableBuffer(), int64(data[i].Len()), 10))
		w.WriteString(" LAST\r\n")
		w.Write(data[i].Bytes())
	}
	// The messages from the k-th on, whose data went, are unknown.
	unanswered := func(k int, err error) {
		for _, i := range todo[k:] {
			if out[i].Err == nil {
				out[i].Err = unknown(fmt.Errorf("smtp: the connection broke before the server answered the message: %w", err))
			}
		}
	}
	if err := flush(); err != nil {
		// How much of the run the server had is not known.
		unanswered(0, err)
		s.drop(c)
		return len(todo), nil
	}
	closing := false // the last answer was a 421
	for k, i := range todo {
		if k == 0 && refused {
			continue
		}
		if err := c.UpdateDeadline(s.cfg.Timeout); err != nil {
			unanswered(k, err)
			s.drop(c)
			return len(todo), nil
		}
		errRset, errMail, errRcpt = nil, nil, nil
		if k > 0 {
			_, _, errRset = c.Text.ReadResponse(250)
			_, _, errMail = c.Text.ReadResponse(250)
			_, _, errRcpt = c.Text.ReadResponse(25)
		}
		_, _, errData := c.Text.ReadResponse(250)
		var broke error
		for _, err := range [...]error{errRset, errMail, errRcpt, errData} {
			if isNetErr(err) {
				broke = err
				break
			}
			closing = closes(err)
		}
		if broke != nil {
			s.drop(c)
			if closing {
				return k, nil
			}
			unanswered(k, broke)
			return len(todo), nil
		}
		switch {
		case errMail == nil && errRcpt == nil:
			out[i] = dataAnswered(ms[i], errData)
		case errData == nil:
			out[i].Err = unknown(fmt.Errorf("smtp: the server took the message after refusing its envelope: %w", errors.Join(errMail, errRcpt)))
		default:
			out[i].Err = refusedEnvelope(errMail, errRcpt, errData)
		}
	}
	if closing {
		s.drop(c)
	} else {
		s.put(c)
	}
	return len(todo), nil
}

// dataAnswered is the result of m whose data the server answered with
// reply (an SMTP reply, not a broken connection): sent, refused for good
// (5xx) or deferred.
func dataAnswered(m *Mail, reply error) Result {
	switch code, _ := replyCode(reply); {
	case reply == nil:
		return Result{Ref: m.MessageID}
	case code >= 500:
		return Result{Err: failed(fmt.Errorf("smtp refused the message: %w", reply))}
	default:
		return Result{Err: retrying(fmt.Errorf("smtp deferred the message: %w", reply))}
	}
}

// replyCode returns the code of the SMTP reply err is, and whether it is
// one (not the connection failing); no error is neither. A nil err is
// answered first: errors.As moves its target to the heap, and most
// answers a run reads are no error (an allocation each, four a message).
func replyCode(err error) (int, bool) {
	if err == nil {
		return 0, false
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code, true
	}
	return 0, false
}

// closes reports whether err is the server's 421: it is closing the
// connection.
func closes(err error) bool {
	code, _ := replyCode(err)
	return code == 421
}

// envelopeWriter returns a function that writes a message's MAIL and
// RCPT, then then, into w (c's buffer, or one in front of it), unflushed.
func envelopeWriter(c *smtp.Client, w *bufio.Writer, then string) func(*Mail) {
	eightBit, _ := c.Extension("8BITMIME")
	return func(m *Mail) {
		// Piece by piece: a concatenation would be a string a command.
		w.WriteString("MAIL FROM:<")
		w.WriteString(m.From)
		w.WriteString(">")
		if eightBit {
			w.WriteString(" BODY=8BITMIME")
		}
		w.WriteString("\r\nRCPT TO:<")
		w.WriteString(m.To)
		w.WriteString(">\r\n")
		w.WriteString(then)
	}
}

// readEnvelope reads the answers to MAIL, RCPT and DATA.
func readEnvelope(c *smtp.Client) (errMail, errRcpt, errData error) {
	_, _, errMail = c.Text.ReadResponse(250)
	_, _, errRcpt = c.Text.ReadResponse(25)
	_, _, errData = c.Text.ReadResponse(354)
	return errMail, errRcpt, errData
}

// refusedEnvelope classifies the server's refusal of a message's envelope
// (the session is still good): a refused address or sender fails, the
// rest is a retry.
func refusedEnvelope(errMail, errRcpt, errData error) error {
	if refusedForGood(errRcpt) {
		return failed(fmt.Errorf("smtp refused the address: %w", errRcpt))
	}
	if refusedForGood(errMail) {
		return failed(fmt.Errorf("smtp refused the sender: %w", errMail))
	}
	return retrying(fmt.Errorf("smtp: %w", errors.Join(errMail, errRcpt, errData)))
}

// refusedForGood reports whether err is a 5xx reply that is not about the
// order of commands (502 or 503: an RCPT after a refused MAIL, say, which
// says nothing about the address).
func refusedForGood(err error) bool {
	code, _ := replyCode(err)
	return code >= 500 && code != 502 && code != 503
}

// isNetErr reports whether err is the connection failing, not a reply.
func isNetErr(err error) bool {
	_, reply := replyCode(err)
	return err != nil && !reply
}

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
