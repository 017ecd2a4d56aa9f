// Package sender is crm-sender's engine: it drains the outbox. Each turn it
// turns expired claims into unknown messages, reconciles unknown ones with
// their provider, then claims a batch of due messages (the claim commits
// before any provider is called), sends them on a few workers and records
// every outcome, fenced on its attempt, in one transaction.
package sender

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"zombiezen.com/go/sqlite"

	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/events"
	"github.com/pi-crm/pi-crm/pkg/images"
	"github.com/pi-crm/pi-crm/pkg/logkey"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/secrets"
	"github.com/pi-crm/pi-crm/pkg/sms"
	"github.com/pi-crm/pi-crm/pkg/store"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// Options tune a sender; the zero value is the production one.
type Options struct {
	Batch   int           // messages claimed a turn (default 200)
	Workers int           // sends at once (default 4)
	Lease   time.Duration // how long a claim holds without an answer (default 2 min)
	Tick    time.Duration // how often an idle sender looks at the database's version (default 200 ms)
	// Settle is how long after a claim a provider's records are trusted to
	// say a message is absent (Mailgun's events lag; default 30 min for
	// providers with records, 0 for the file provider).
	Settle time.Duration
	// AskUserAfter is how long an undecided unknown message waits before
	// its reason is shown for the user to resend or drop (default 10 min).
	AskUserAfter time.Duration
	// Recheck is how long an unknown message waits between two questions
	// to its provider (default 1 min).
	Recheck time.Duration
	// Backoff is the wait before attempt n+1 (default 1 min doubling, at
	// most 1 h); MaxAttempts fails a message after that many (default 8).
	Backoff     func(attempt int) time.Duration
	MaxAttempts int
	// Open builds a workspace's provider (default mailer.Open).
	Open func(cfg mailer.Config, env mailer.Env) (mailer.Provider, error)
	// SMS texts through the appliance's Twilio number (nil: texting is
	// not set up, and texts wait).
	SMS *sms.Client
}

// Sender drains the outbox of one database.
type Sender struct {
	db      *store.DB
	log     *slog.Logger
	ring    *secrets.Ring
	dataDir string
	opt     Options
	metrics *Metrics

	mu        sync.Mutex
	providers map[string]*provider // by workspace
	// fill fills campaign messages from their stored layouts, keeping the
	// last few read and compiled.
	fill *emailtemplate.Renderer
}

type provider struct {
	p       mailer.Provider
	cfg     mailer.Config
	err     error
	limiter *limiter
}

// New returns a sender; ring opens the providers' secrets (nil: only
// providers without one work), dataDir holds the file provider's mail.
func New(db *store.DB, log *slog.Logger, ring *secrets.Ring, dataDir string, opt Options) *Sender {
	if opt.Batch <= 0 {
		opt.Batch = 200
	}
	if opt.Workers <= 0 {
		opt.Workers = 4
	}
	if opt.Lease <= 0 {
		opt.Lease = 2 * time.Minute
	}
	if opt.Tick <= 0 {
		opt.Tick = 200 * time.Millisecond
	}
	if opt.Settle < 0 {
		opt.Settle = 0
	} else if opt.Settle == 0 {
		opt.Settle = 30 * time.Minute
	}
	if opt.AskUserAfter <= 0 {
		opt.AskUserAfter = 10 * time.Minute
	}
	if opt.Recheck <= 0 {
		opt.Recheck = time.Minute
	}
	if opt.Backoff == nil {
		opt.Backoff = func(n int) time.Duration { return min(time.Minute<<min(n-1, 6), time.Hour) }
	}
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = 8
	}
	if opt.Open == nil {
		opt.Open = mailer.Open
	}
	return &Sender{db: db, log: log, ring: ring, dataDir: dataDir, opt: opt, providers: map[string]*provider{}, fill: emailtemplate.NewRenderer(16)}
}

// Run drains the outbox until ctx ends. It is woken by commits (the
// database's data version) and by due retries, never by a hot loop.
func (s *Sender) Run(ctx context.Context) error {
	watch, err := s.db.Watch()
	if err != nil {
		return fmt.Errorf("sender: %w", err)
	}
	defer watch.Close()
	tick := time.NewTicker(s.opt.Tick)
	defer tick.Stop()
	lastFull := time.Time{}
	for {
		busy, err := s.Turn(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("sender turn", logkey.Err, err)
		}
		if busy {
			continue // a full batch: there is more
		}
		for {
			select {
			case <-ctx.Done():
				return nil
			case now := <-tick.C:
				changed, err := watch.Changed()
				if err != nil {
					s.log.Warn("sender: watch the database", logkey.Err, err)
				}
				// A look every few seconds all the same: retries fall due
				// and claims expire without a commit to say so.
				if !changed && now.Sub(lastFull) < 5*time.Second {
					continue
				}
			}
			lastFull = time.Now()
			break
		}
	}
}

// Turn does one round: expire, reconcile, claim, send, record. It reports
// whether the claim was full (more may be due at once).
func (s *Sender) Turn(ctx context.Context) (bool, error) {
	now := time.Now()
	var claimed, unknown []outbox.Message
	err := s.db.Write(ctx, func(conn *sqlite.Conn) error {
		if n, err := outbox.Expire(conn, now); err != nil {
			return err
		} else if n > 0 {
			s.log.Warn("claims ran out: reconciling with the providers before any resend", "messages", n)
		}
		var err error
		if claimed, err = outbox.Claim(conn, s.opt.Batch, s.opt.Lease, now); err != nil {
			return err
		}
		// The unknown messages to ask about, read here on the writer's
		// connection: a read of its own was another connection whose page
		// cache every commit emptied. Each is asked again Recheck after
		// its last question; whether the provider's records have settled
		// is decided in reconcile.
		unknown, err = outbox.ToReconcile(conn, 100, now, now.Add(-s.opt.Recheck))
		return err
	})
	if err != nil {
		return false, err
	}
	if err := s.reconcile(ctx, unknown, now); err != nil && ctx.Err() == nil {
		s.log.Warn("reconcile", logkey.Err, err)
	}
	if len(claimed) == 0 {
		return false, nil
	}
	outs := s.sendAll(ctx, claimed)
	if err := s.record(ctx, outs); err != nil {
		return false, err
	}
	return len(claimed) == s.opt.Batch, nil
}

// sendAll sends the claimed messages on the workers.
func (s *Sender) sendAll(ctx context.Context, msgs []outbox.Message) []outbox.Outcome {
	outs := make([]outbox.Outcome, len(msgs))
	// Each workspace's provider once a batch, not once a message; a
	// workspace at its daily cap sends nothing more until tomorrow (its
	// time zone's midnight).
	providers := map[string]*provider{}
	errs := map[string]error{}
	room := map[string]int{} // sends left today, for capped workspaces
	for _, m := range msgs {
		if _, ok := providers[m.WorkspaceID]; ok || m.Channel == outbox.SMS {
			continue
		}
		p, err := s.provider(ctx, m.WorkspaceID)
		providers[m.WorkspaceID], errs[m.WorkspaceID] = p, err
		if err == nil && p.cfg.DailyCap > 0 {
			left, err := s.capRoom(ctx, m.WorkspaceID, p.cfg.DailyCap)
			if err != nil {
				errs[m.WorkspaceID] = &mailer.Error{State: outbox.Retrying, Err: err}
			}
			room[m.WorkspaceID] = left
		}
	}
	held := make([]bool, len(msgs)) // over its workspace's cap, or in quiet hours: not sent this turn
	for i, o := range s.quietHolds(ctx, msgs, time.Now()) {
		outs[i], held[i] = o, true
	}
	tomorrow := map[string]time.Time{}
	for i := range msgs {
		m := &msgs[i]
		if held[i] {
			continue
		}
		left, capped := room[m.WorkspaceID]
		if !capped || errs[m.WorkspaceID] != nil || m.Channel == outbox.SMS {
			continue
		}
		if left <= 0 {
			due, ok := tomorrow[m.WorkspaceID]
			if !ok {
				due = s.tomorrow(ctx, m.WorkspaceID)
				tomorrow[m.WorkspaceID] = due
			}
			o := m.Outcome()
			o.State, o.Due = outbox.Retrying, due
			o.Error = fmt.Sprintf("The daily limit of %d messages is reached: it goes tomorrow.", providers[m.WorkspaceID].cfg.DailyCap)
			outs[i] = o
			held[i] = true
			continue
		}
		room[m.WorkspaceID] = left - 1
	}
	next := make(chan []int)
	var wg sync.WaitGroup
	for range min(s.opt.Workers, len(msgs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for run := range next {
				m := &msgs[run[0]]
				if len(run) == 1 {
					outs[run[0]] = s.sendOne(ctx, m, providers[m.WorkspaceID], errs[m.WorkspaceID])
					continue
				}
				s.sendRun(ctx, msgs, run, providers[m.WorkspaceID], outs)
			}
		}()
	}
	// Runs of one workspace's email, to a provider that takes them, go to
	// a worker together (one write a message over SMTP); the rest one by
	// one.
	var run []int
	for i := range msgs {
		if held[i] {
			continue
		}
		m := &msgs[i]
		if len(run) > 0 && (len(run) == runSize || msgs[run[0]].WorkspaceID != m.WorkspaceID) {
			next <- run
			run = nil
		}
		if _, ok := s.runner(m, providers[m.WorkspaceID], errs[m.WorkspaceID]); !ok {
			next <- []int{i}
			continue
		}
		run = append(run, i)
	}
	if len(run) > 0 {
		next <- run
	}
	close(next)
	wg.Wait()
	return outs
}

// runSize is the most messages a worker sends as one run: eight, so a
// claim of 200 still spreads over eight workers.
const runSize = 8

// runner returns m's provider as a RunSender, when m is email to a
// working provider that takes runs.
func (s *Sender) runner(m *outbox.Message, p *provider, err error) (mailer.RunSender, bool) {
	if m.Channel == outbox.SMS || err != nil || p == nil {
		return nil, false
	}
	r, ok := p.p.(mailer.RunSender)
	return r, ok
}

// sendRun sends the messages run names (indexes of msgs, all email of one
// workspace whose provider takes runs) as one run, and stores their
// outcomes in outs.
func (s *Sender) sendRun(ctx context.Context, msgs []outbox.Message, run []int, p *provider, outs []outbox.Outcome) {
	r, _ := s.runner(&msgs[run[0]], p, nil)
	var mails []*mailer.Mail
	var sent []int
	for _, i := range run {
		mail, err := s.ready(ctx, &msgs[i], p)
		if err != nil {
			outs[i] = s.outcome(ctx, &msgs[i], "", err)
			continue
		}
		mails, sent = append(mails, mail), append(sent, i)
	}
	if len(mails) == 0 {
		return
	}
	start := time.Now()
	res := r.SendRun(ctx, mails)
	each := time.Since(start) / time.Duration(len(mails))
	for k, i := range sent {
		s.metrics.observe(p.p.Kind(), each, res[k].Err)
		outs[i] = s.outcome(ctx, &msgs[i], res[k].Ref, res[k].Err)
	}
}

// ready waits for m's turn under its provider's rate limit and makes its
// mail.
func (s *Sender) ready(ctx context.Context, m *outbox.Message, p *provider) (*mailer.Mail, error) {
	if err := p.limiter.wait(ctx); err != nil {
		return nil, err
	}
	return s.mail(ctx, m)
}

func (s *Sender) sendOne(ctx context.Context, m *outbox.Message, p *provider, err error) outbox.Outcome {
	if m.Channel == outbox.SMS {
		return s.sendText(ctx, m, m.Outcome())
	}
	var ref string
	if err == nil {
		var mail *mailer.Mail
		if mail, err = s.ready(ctx, m, p); err == nil {
			start := time.Now()
			ref, err = p.p.Send(ctx, mail)
			s.metrics.observe(p.p.Kind(), time.Since(start), err)
		}
	}
	return s.outcome(ctx, m, ref, err)
}

// outcome is what a send of m that returned ref and err makes of it.
func (s *Sender) outcome(ctx context.Context, m *outbox.Message, ref string, err error) outbox.Outcome {
	o := m.Outcome()
	switch {
	case err == nil:
		o.State, o.Ref = outbox.Sent, ref
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		// Stopping: the claim runs out and the message is reconciled.
		o.State, o.Error = outbox.Unknown, "The sender stopped while sending."
	default:
		o.State, o.Error = mailer.Classify(err), err.Error()
		if o.State == outbox.Retrying {
			if m.Attempts >= s.opt.MaxAttempts {
				o.State, o.Error = outbox.Failed, fmt.Sprintf("Gave up after %d attempts: %v", m.Attempts, err)
			} else {
				o.Due = time.Now().Add(s.opt.Backoff(m.Attempts))
			}
		}
	}
	return o
}

// capRoom returns how many more messages workspace wsID may send today
// under a cap of limit.
func (s *Sender) capRoom(ctx context.Context, wsID string, limit int) (int, error) {
	var n int
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		var err error
		n, err = outbox.SentSince(conn, wsID, s.midnight(conn, wsID))
		return err
	})
	return limit - n, err
}

// midnight is the start of today in workspace wsID's time zone.
func (s *Sender) midnight(conn *sqlite.Conn, wsID string) time.Time {
	loc := time.UTC
	if tz, err := workspace.TimeZoneIn(conn, wsID); err == nil {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		}
	}
	now := time.Now().In(loc)
	return time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
}

// tomorrow is the next midnight in workspace wsID's time zone.
func (s *Sender) tomorrow(ctx context.Context, wsID string) time.Time {
	var t time.Time
	_ = s.db.Read(ctx, func(conn *sqlite.Conn) error {
		t = s.midnight(conn, wsID).AddDate(0, 0, 1)
		return nil
	})
	if t.IsZero() {
		t = time.Now().Add(time.Hour)
	}
	return t
}

// sendText texts m through Twilio. A number that texted STOP (Twilio's
// error 21610) fails the message and marks the contact opted out.
func (s *Sender) sendText(ctx context.Context, m *outbox.Message, o outbox.Outcome) outbox.Outcome {
	if s.opt.SMS == nil {
		o.State, o.Error, o.Due = outbox.Retrying, "Texting is not set up on this appliance (Twilio's account, number and token).", time.Now().Add(s.opt.Backoff(m.Attempts))
		return o
	}
	start := time.Now()
	sid, err := s.opt.SMS.Send(ctx, m.To, m.Text)
	s.metrics.observe("twilio", time.Since(start), err)
	var te *sms.Error
	switch {
	case err == nil:
		o.State, o.Ref = outbox.Sent, sid
	case errors.As(err, &te) && te.Code == sms.Unsubscribed:
		o.State, o.Error, o.OptOut = outbox.Failed, "This number texted STOP: it gets no texts until it texts START.", true
	case errors.As(err, &te) && (te.Status == 429 || te.Status >= 500):
		o.State, o.Error, o.Due = outbox.Retrying, err.Error(), time.Now().Add(s.opt.Backoff(m.Attempts))
	case errors.As(err, &te):
		o.State, o.Error = outbox.Failed, err.Error()
	case !sms.Dialled(err):
		o.State, o.Error, o.Due = outbox.Retrying, err.Error(), time.Now().Add(s.opt.Backoff(m.Attempts))
	default:
		o.State, o.Error = outbox.Unknown, err.Error() // it may have gone: reconciled before any resend
	}
	if o.State == outbox.Retrying && m.Attempts >= s.opt.MaxAttempts {
		o.State, o.Error = outbox.Failed, fmt.Sprintf("Gave up after %d attempts: %s", m.Attempts, o.Error)
	}
	return o
}

// mail makes a message's MIME parts: its HTML with the appliance's images
// as inline parts.
func (s *Sender) mail(ctx context.Context, m *outbox.Message) (*mailer.Mail, error) {
	mail := &mailer.Mail{OutboxID: m.ID, MessageID: m.MessageID, From: m.From, FromName: m.FromName, To: m.To, Subject: m.Subject, HTML: m.HTML, Text: m.Text}
	if m.LayoutID != "" {
		var err error
		if mail.HTML, mail.Text, err = s.fill.FillStored(m.LayoutID, m.Fill, func() (emailtemplate.Layout, error) { return s.layout(ctx, m.LayoutID) }); err != nil {
			return nil, &mailer.Error{State: outbox.Retrying, Err: err}
		}
	}
	if m.Bulk && m.Provider != mailer.KindMailgun {
		// Mailgun adds its hosted one-click unsubscribe (the domain's
		// unsubscribe tracking); elsewhere a mailto: the reply poller reads.
		mail.Headers = map[string]string{"List-Unsubscribe": mailer.UnsubscribeMailto(m.From, m.ID)}
	}
	if mail.HTML == "" {
		return mail, nil
	}
	html, ids := emailtemplate.Inline(mail.HTML, m.WorkspaceID)
	mail.HTML = html
	if len(ids) == 0 {
		return mail, nil
	}
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		for _, id := range ids {
			im, data, err := images.DataIn(conn, m.WorkspaceID, id)
			if err != nil {
				continue // deleted since: the message goes without it
			}
			mail.Inline = append(mail.Inline, mailer.Image{CID: emailtemplate.CID(id), ContentType: im.ContentType, Data: data})
		}
		return nil
	})
	return mail, err
}

// layout reads stored layout id.
func (s *Sender) layout(ctx context.Context, id string) (emailtemplate.Layout, error) {
	var l outbox.Layout
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		var err error
		l, err = outbox.LayoutIn(conn, id)
		return err
	})
	return emailtemplate.Layout(l), err
}

// record stores the outcomes in one transaction.
func (s *Sender) record(ctx context.Context, outs []outbox.Outcome) error {
	// Recording must not be cancelled with the run: an answer the provider
	// gave is kept even while stopping.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return s.db.Write(rctx, func(conn *sqlite.Conn) error {
		took, err := outbox.Record(conn, time.Now(), outs...)
		if err != nil {
			return err
		}
		for _, o := range took {
			if !o.OptOut {
				continue
			}
			if m, ok, err := outbox.Get(conn, o.ID); err != nil {
				return err
			} else if ok && m.ContactID != "" {
				if err := events.SetFlag(conn, m.WorkspaceID, m.ContactID, events.FlagSMSOptOut, "Twilio refused a text: the number had texted STOP"); err != nil {
					return err
				}
			}
		}
		s.metrics.outcomes(took)
		return nil
	})
}

// provider returns workspace wsID's provider, built again when its
// settings changed.
func (s *Sender) provider(ctx context.Context, wsID string) (*provider, error) {
	var cfg mailer.Config
	var ok bool
	err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
		var err error
		cfg, ok, err = mailer.ConfigIn(conn, wsID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &mailer.Error{State: outbox.Retrying, Err: errors.New("this workspace has no email provider set up")}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.providers[wsID]; ok && p.cfg.UpdatedAt.Equal(cfg.UpdatedAt) {
		return p, p.err
	}
	if old, ok := s.providers[wsID]; ok {
		if c, ok := old.p.(interface{ Close() }); ok {
			c.Close()
		}
	}
	p := &provider{cfg: cfg, limiter: newLimiter(cfg.PerMinute)}
	p.p, p.err = s.opt.Open(cfg, mailer.Env{Ring: s.ring, DataDir: s.dataDir, DB: s.db})
	if p.err != nil {
		p.err = &mailer.Error{State: outbox.Retrying, Err: p.err}
	}
	s.providers[wsID] = p
	return p, p.err
}

// reconcileText asks Twilio whether unknown text m went out: an outbound
// message from our number to its recipient since its claim, with its body,
// that no other outbox row already claims as its own.
func (s *Sender) reconcileText(ctx context.Context, m *outbox.Message, now time.Time) error {
	v, ref, reason := outbox.Undecided, "", ""
	if s.opt.SMS != nil {
		list, err := s.opt.SMS.List(ctx, m.To, m.From, m.ClaimedAt)
		if err == nil {
			v = outbox.NeverSent
			for _, t := range list {
				if t.Direction == "inbound" || t.Body != m.Text || t.Sent().Before(m.ClaimedAt.Add(-time.Minute)) {
					continue
				}
				taken := false
				if err := s.db.Read(ctx, func(conn *sqlite.Conn) error {
					var err error
					taken, err = store.Exists(conn, `SELECT 1 FROM outbox WHERE provider_ref = ? AND id <> ?`, t.SID, m.ID)
					return err
				}); err != nil {
					return err
				}
				if !taken {
					v, ref = outbox.WasSent, t.SID
					break
				}
			}
		} else if now.Sub(m.ClaimedAt) >= s.opt.AskUserAfter {
			reason = "Twilio could not be asked whether it went out (" + err.Error() + "): check, then resend or drop it."
		}
	}
	if err := s.db.Write(ctx, func(conn *sqlite.Conn) error { return outbox.Reconciled(conn, m.ID, v, ref, reason, time.Now()) }); err != nil {
		return err
	}
	s.metrics.reconciled(v)
	return nil
}

// reconcile asks the providers about the unknown messages todo (read at
// now) whose records have settled.
func (s *Sender) reconcile(ctx context.Context, todo []outbox.Message, now time.Time) error {
	for i := range todo {
		m := &todo[i]
		if m.Channel == outbox.SMS {
			if err := s.reconcileText(ctx, m, now); err != nil {
				return err
			}
			continue
		}
		p, err := s.provider(ctx, m.WorkspaceID)
		if err != nil {
			continue
		}
		settle := s.opt.Settle
		if p.p.Kind() == mailer.KindFile {
			settle = 0
		}
		if now.Sub(m.ClaimedAt) < settle {
			continue
		}
		mail := &mailer.Mail{OutboxID: m.ID, MessageID: m.MessageID, To: m.To}
		v, ref, lerr := p.p.Lookup(ctx, mail, m.ClaimedAt)
		reason := ""
		if v == outbox.Undecided && now.Sub(m.ClaimedAt) >= s.opt.AskUserAfter {
			reason = "Not confirmed by the provider: check the recipient got it, then resend or drop it."
			if lerr != nil {
				reason += " (" + lerr.Error() + ")"
			}
		}
		if err := s.db.Write(ctx, func(conn *sqlite.Conn) error {
			return outbox.Reconciled(conn, m.ID, v, ref, reason, time.Now())
		}); err != nil {
			return err
		}
		s.metrics.reconciled(v)
	}
	return nil
}
