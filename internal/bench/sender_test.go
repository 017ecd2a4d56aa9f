package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/pi-crm/pi-crm/internal/services"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/emailtemplate"
	"github.com/pi-crm/pi-crm/pkg/mailer"
	"github.com/pi-crm/pi-crm/pkg/outbox"
	"github.com/pi-crm/pi-crm/pkg/placeholder"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// sink is an SMTP server that counts the messages it accepts and throws
// them away.
type sink struct{ n atomic.Int64 }

func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return sinkSession{s}, nil }

type sinkSession struct{ s *sink }

func (sinkSession) Reset()                               { _ = 0 }
func (sinkSession) Logout() error                        { return nil }
func (sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (x sinkSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	x.s.n.Add(1)
	return err
}

// sender measures crm-sender draining 10,000 messages of one template with
// placeholders to a local SMTP sink (sender_smtp_msgs_per_s, the CPU it
// spent per 1,000, its peak RSS while sending), each send's state recorded
// in the outbox before it counts; how long queueing the 10,000 takes
// (outbox_enqueue_10k_ms: render for each recipient and insert, one
// transaction); and the file provider's rate, whose every message is an
// fsynced file (sender_file_msgs_per_s, on 2,000).
func (b *bench) sender() {
	t := b.t
	svc, actor, _, done := b.openServices()
	defer done()
	ctx := context.Background()
	sk, port := b.startSink()
	// Mail that earlier benches queued and left (the drip bench's 10,100
	// steps, a blast no page bench sent) is dropped, or crm-sender would
	// send it through the file provider beside these and count its CPU.
	if err := svc.DB.Write(ctx, func(conn *sqlite.Conn) error {
		return sqlitex.Execute(conn, `DELETE FROM outbox WHERE state IN ('queued', 'retrying')`, nil)
	}); err != nil {
		t.Fatal(err)
	}

	smtpWS := b.sinkWorkspace(svc, actor, "Bench SMTP", port)
	fileWS := b.workspaceFor(svc, actor, "Bench file", mailer.Change{Kind: mailer.KindFile, FromName: "Andy", FromEmail: "andy@bench.example"})
	tpl := emailtemplate.Template{Name: "bench", Subject: "Rates for {{first_name}}", Preheader: "What moved for {{company | \"you\"}}",
		BodyHTML: `<h2>Hi {{first_name | "there"}}</h2><p>Rates moved this week for {{company}}. <a href="https://rateready.example/?e={{email}}">See yours</a></p>` +
			`<p>Call me, {{sender.name}}.</p>`}
	enqueue := func(wsID string, n int, kind string) time.Duration {
		r := emailtemplate.NewRenderer(4)
		start := time.Now()
		if err := svc.DB.Write(ctx, func(conn *sqlite.Conn) error {
			now := time.Now()
			for i := range n {
				v := placeholder.Values{"first_name": fmt.Sprintf("Client%d", i), "company": "Homes & Co", "email": fmt.Sprintf("client%d@example.com", i), "sender.name": "Andy"}
				e, err := r.Render(tpl, v, nil)
				if err != nil {
					return err
				}
				if _, _, err := outbox.Enqueue(conn, outbox.Message{WorkspaceID: wsID, UserID: actor.UserID, DedupeKey: fmt.Sprintf("bench:%s:%d", wsID, i), Provider: kind,
					To: v["email"], From: "andy@bench.example", FromName: "Andy", Subject: e.Subject, HTML: e.HTML, Text: e.Text}, now); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	// drain runs crm-sender until the outbox has target messages sent, n
	// of them new.
	drain := func(target, n int, arrived func() bool) (perS, cpuPer1000, peakMB float64) {
		return b.drain(n, arrived, func() bool { return sentIn(t, svc) >= target })
	}
	if b.want("outbox_enqueue") || b.want("sender_smtp") || b.want("sender_cpu") || b.want("sender_rss") {
		took := enqueue(smtpWS, 10_000, mailer.KindSMTP)
		if b.want("outbox_enqueue") {
			b.report("outbox_enqueue_10k_ms", float64(took.Microseconds())/1000, "ms")
		}
		perS, cpu, rss := drain(10_000, 10_000, func() bool { return sk.n.Load() >= 10_000 })
		if got := sk.n.Load(); got != 10_000 {
			t.Fatalf("the sink got %d messages, want 10000", got)
		}
		if b.want("sender_smtp") {
			b.report("sender_smtp_msgs_per_s", perS, "msgs/s")
		}
		if b.want("sender_cpu") {
			b.report("sender_cpu_s_per_1000", cpu, "s")
		}
		if b.want("sender_rss") {
			b.report("sender_rss_mb", rss, "MB")
		}
	}
	if b.want("sender_kinstr") {
		b.senderInstructions(svc, actor, port, sk, func(wsID string) { enqueue(wsID, 10_000, mailer.KindSMTP) })
	}
	if b.want("sender_file") {
		// Benches before this one (campaigns, drips) may have left mail of
		// their own in the folder: these are the files beyond theirs.
		mail := filepath.Join(b.dir, "mail", "*.eml")
		old, _ := filepath.Glob(mail)
		enqueue(fileWS, 2_000, mailer.KindFile)
		// The SMTP ones, if any, are sent already: the count now is theirs plus these.
		before := sentIn(t, svc)
		perS, _, _ := drain(before+2_000, 2_000, func() bool {
			files, _ := filepath.Glob(mail)
			return len(files)-len(old) >= 2_000
		})
		files, _ := filepath.Glob(mail)
		if len(files)-len(old) != 2_000 {
			t.Fatalf("%d new files, want 2000", len(files)-len(old))
		}
		b.report("sender_file_msgs_per_s", perS, "msgs/s")
	}
}

// senderInstructions measures sender_kinstr_per_msg: the instructions
// crm-sender runs, start to stop, to send 10,000 messages like
// sender_cpu_s_per_1000's (queued by enqueue into a workspace of their
// own on the same sink), in thousands a message. cachegrind counts them in
// user space, where they repeat to about 0.3% from run to run whatever
// else the host is doing; the seconds of sender_cpu_s_per_1000 moved 1.5
// to 1.9 times for one binary as the host's load changed. The figure is
// left out, with a line in the log, where valgrind is not installed.
func (b *bench) senderInstructions(svc *services.Services, actor auth.Actor, port int, sk *sink, enqueue func(wsID string)) {
	t := b.t
	valgrind, err := exec.LookPath("valgrind")
	if err != nil {
		t.Log("sender_kinstr_per_msg not measured: valgrind is not installed (apt-get install valgrind)")
		return
	}
	wsID := b.sinkWorkspace(svc, actor, "Bench SMTP counted", port)
	enqueue(wsID)
	before := sentIn(t, svc)
	out := filepath.Join(t.TempDir(), "cachegrind.out")
	target := sk.n.Load() + 10_000
	b.drainUnder(func(c *exec.Cmd) {
		c.Args = []string{"valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=" + out, c.Path}
		c.Path = valgrind
	}, 10_000, func() bool { return sk.n.Load() >= target }, func() bool { return sentIn(t, svc) >= before+10_000 })
	if got := sk.n.Load(); got != target {
		t.Fatalf("the sink got %d messages, want %d", got, target)
	}
	n, err := cachegrindTotal(out)
	if err != nil {
		t.Fatal(err)
	}
	b.report("sender_kinstr_per_msg", float64(n)/10_000/1000, "kinstr")
}

// sentIn returns how many messages the outbox has sent.
func sentIn(t *testing.T, svc *services.Services) int {
	t.Helper()
	var sent int
	if err := svc.DB.Read(context.Background(), func(conn *sqlite.Conn) error {
		c, err := outbox.Counts(conn)
		sent = c[outbox.Sent]
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return sent
}

// cachegrindTotal reads the instruction count from the summary line of
// cachegrind's output file.
func cachegrindTotal(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("cachegrind output: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "summary: "); ok {
			n, err := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("cachegrind summary %q: %w", v, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("cachegrind output %s has no summary line", path)
}

// startSink starts an SMTP sink on loopback for the bench's life and
// returns it and its port.
func (b *bench) startSink() (*sink, int) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.t.Fatal(err)
	}
	sk := &sink{}
	srv := smtp.NewServer(sk)
	srv.Domain, srv.ReadTimeout, srv.WriteTimeout = "localhost", 10*time.Second, 10*time.Second
	go srv.Serve(l)
	b.t.Cleanup(func() { srv.Close() })
	return sk, l.Addr().(*net.TCPAddr).Port
}

// drain runs crm-sender until arrived (the provider has the n new
// messages: cheap to ask) and then recorded (every send is in the outbox)
// hold, and returns its rate, its CPU per 1,000 and its peak RSS.
func (b *bench) drain(n int, arrived, recorded func() bool) (perS, cpuPer1000, peakMB float64) {
	return b.drainUnder(nil, n, arrived, recorded)
}

// drainUnder is drain with crm-sender's command passed through wrap
// first, when wrap is not nil (to run it under a tool).
func (b *bench) drainUnder(wrap func(*exec.Cmd), n int, arrived, recorded func() bool) (perS, cpuPer1000, peakMB float64) {
	t := b.t
	// Eight connections, as a newsletter server's default pool (ten)
	// would have; the sink is on loopback, so what limits is the CPU.
	// Claims of the default size (200): a batch of 500 was no faster
	// and held 3-4 MB more while sending.
	c := b.cmd("crm-sender", "PICRM_SENDER_WORKERS=8")
	if wrap != nil {
		wrap(c)
	}
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	start := time.Now()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer stop(c)
	pid := c.Process.Pid
	// Watch the sink's counter (free) until it has the new messages,
	// then the outbox until every send is recorded: a count of the
	// outbox every few milliseconds would take CPU from the sender.
	for {
		if mb := rssMB(pid); mb > peakMB {
			peakMB = mb
		}
		if arrived() && recorded() {
			break
		}
		if time.Since(start) > 5*time.Minute {
			t.Fatalf("crm-sender did not send %d in 5 minutes", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	user, system := cpuSplit(pid)
	ticks := user + system
	t.Logf("crm-sender sent %d in %v: %d ticks of user time, %d of system time", n, elapsed.Round(time.Millisecond), user, system)
	return float64(n) / elapsed.Seconds(), float64(ticks) / 100 / (float64(n) / 1000), peakMB
}

// sinkWorkspace makes a workspace sending to the SMTP sink on port, over
// eight connections.
func (b *bench) sinkWorkspace(svc *services.Services, actor auth.Actor, name string, port int) string {
	return b.workspaceFor(svc, actor, name, mailer.Change{Kind: mailer.KindSMTP, FromName: "Andy", FromEmail: "andy@bench.example",
		Settings: mailer.Settings{Host: "127.0.0.1", Port: port, TLS: "none", Conns: 8}})
}

// workspaceFor makes a workspace sending through ch.
func (b *bench) workspaceFor(svc *services.Services, actor auth.Actor, name string, ch mailer.Change) string {
	ctx := context.Background()
	ws, err := svc.Workspaces.Create(ctx, actor, workspace.Change{Name: &name})
	if err != nil {
		b.t.Fatal(err)
	}
	if _, err := svc.Providers.Set(ctx, actor, ws.ID, ch); err != nil {
		b.t.Fatal(err)
	}
	return ws.ID
}
