package web

import (
	"io"
	"net/http"
	"time"
)

// Server timeouts. cmd/crm-web puts ReadTimeout and WriteTimeout on its
// http.Server: short enough that a stalled client lets go of its
// connection, long enough for any page. The two kinds of request that take
// longer move their own deadlines:
//   - the import upload reads 20 MB, which on a weak Wi-Fi link (2 Mbit/s)
//     takes 80 s: it gets UploadTimeout to read and answer;
//   - a streamed download (an export of 100,000 contacts from a Pi to a
//     phone) moves its write deadline on by StreamSlack with each chunk it
//     writes, so it ends only when the client stops reading.
const (
	ReadTimeout   = 30 * time.Second
	WriteTimeout  = 60 * time.Second
	UploadTimeout = 10 * time.Minute
	StreamSlack   = time.Minute
)

// extendRequest gives the request d to read its body and write its answer.
func extendRequest(w http.ResponseWriter, d time.Duration) {
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(d)
	_ = rc.SetReadDeadline(deadline)
	_ = rc.SetWriteDeadline(deadline)
}

// streamWriter moves the write deadline on as a download makes progress.
type streamWriter struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	slack time.Duration
	next  time.Time // when to move the deadline again
}

func newStreamWriter(w http.ResponseWriter, slack time.Duration) io.Writer {
	return &streamWriter{w: w, rc: http.NewResponseController(w), slack: slack}
}

// Write moves the deadline (at most every quarter of the slack, it is a
// syscall-free but not free call) and writes p.
func (s *streamWriter) Write(p []byte) (int, error) {
	if now := time.Now(); now.After(s.next) {
		_ = s.rc.SetWriteDeadline(now.Add(s.slack))
		s.next = now.Add(s.slack / 4)
	}
	return s.w.Write(p)
}
