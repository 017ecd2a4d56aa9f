package web_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pi-crm/pi-crm/internal/apptest"
)

// slowReader hands out its data a chunk at a time with a pause between.
type slowReader struct {
	data  []byte
	chunk int
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	time.Sleep(s.pause)
	n := copy(p[:min(len(p), s.chunk)], s.data)
	s.data = s.data[n:]
	return n, nil
}

// smallBuffers gives accepted connections a small send buffer, so a
// download cannot be handed whole to the kernel before its deadline.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(8 << 10)
	}
	return c, err
}

// TestSlowUploadsAndDownloadsFinish: behind a server whose read and write
// timeouts are 1 s, an upload that takes 2.5 s and an export the client
// reads for several seconds both finish: each moves its own deadline.
func TestSlowUploadsAndDownloadsFinish(t *testing.T) {
	app := apptest.New(t, apptest.Options{})
	andy := app.NewUser("Andy")
	ws := andy.Workspace("Loan Factory")
	ts := httptest.NewUnstartedServer(app.Web.Handler())
	ts.Listener = smallBuffers{ts.Listener}
	ts.Config.ReadTimeout, ts.Config.WriteTimeout = time.Second, time.Second
	ts.Start()
	defer ts.Close()

	t.Run("Upload", func(t *testing.T) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("file", "people.csv")
		fw.Write([]byte("Name,Email\n"))
		for i := range 2000 {
			fw.Write([]byte("Person " + strings.Repeat("x", i%7) + ",p" + strings.Repeat("1", i%5) + "@example.com\n"))
		}
		mw.Close()
		body := &slowReader{data: buf.Bytes(), chunk: len(buf.Bytes())/25 + 1, pause: 100 * time.Millisecond}
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/w/"+ws.ID+"/import", body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		start := time.Now()
		resp, err := andy.Client.Do(req)
		if err != nil {
			t.Fatalf("slow upload: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || time.Since(start) < 2*time.Second {
			t.Fatalf("slow upload: status=%d after %v, want 303 after over 2 s", resp.StatusCode, time.Since(start))
		}
	})

	t.Run("Download", func(t *testing.T) {
		if err := app.Contacts.GenerateDemo(context.Background(), andy.Actor, ws.ID, 10000, 0, 1); err != nil {
			t.Fatal(err)
		}
		// A small receive buffer, so the server cannot hand the whole file
		// to the kernel and be done before its deadline.
		dialer := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 8<<10) })
		}}
		cl := &http.Client{Jar: andy.Client.Jar, Transport: &http.Transport{DialContext: dialer.DialContext}}
		resp, err := cl.Get(ts.URL + "/w/" + ws.ID + "/export/download")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got bytes.Buffer
		start := time.Now()
		chunk := make([]byte, 8<<10)
		for {
			n, err := resp.Body.Read(chunk)
			got.Write(chunk[:n])
			if err != nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		took := time.Since(start)
		lines := bytes.Count(got.Bytes(), []byte("\n"))
		t.Logf("read %d KB, %d lines in %v", got.Len()>>10, lines, took.Round(time.Millisecond))
		if took < 2*time.Second {
			t.Fatalf("the download took only %v: the test proves nothing", took)
		}
		if lines < 10001 {
			t.Fatalf("the slow download was cut off at %d lines (%d KB), want 10,001", lines, got.Len()>>10)
		}
	})
}
