package mailer_test

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/pkg/mailer"
)

// parts reads a message's text and HTML parts back, decoded, with the
// transfer encoding each was sent in.
func parts(t *testing.T, raw []byte) map[string][2]string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read message: %v\n%s", err, raw)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][2]string{}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextRawPart() // the raw part: NextPart would decode QP and drop the header
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		enc := p.Header.Get("Content-Transfer-Encoding")
		var body io.Reader = p
		if enc == "quoted-printable" {
			body = quotedprintable.NewReader(p)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		out[ct] = [2]string{enc, string(b)}
	}
}

// TestPartsGoUnencodedWhenSMTPCarriesThem: a 7-bit body in short lines
// goes as it is (an "=" stays an "=", bare line feeds become CRLF, which
// SMTP requires), while non-ASCII letters and a line over 998 bytes go
// quoted-printable; every part reads back as it was written.
func TestPartsGoUnencodedWhenSMTPCarriesThem(t *testing.T) {
	long := strings.Repeat("a", 1200)
	for _, c := range []struct {
		name, text, html   string
		wantText, wantHTML string // the encoding each part must be sent in
	}{
		{"ascii", "Hi Tom,\nrates = 6.1%\n", `<p style="color:#333">Hi Tom</p>` + "\n<p>Bye</p>", "8bit", "8bit"},
		{"crlf already", "Hi Tom,\r\nBye\r\n", "<p>Hi</p>\r\n", "8bit", "8bit"},
		{"non-ascii", "Hi José,\nBye", "<p>Olá</p>", "quoted-printable", "quoted-printable"},
		{"long line", "Hi", "<p>" + long + "</p>", "8bit", "quoted-printable"},
		{"bare cr", "Hi\rBye", "<p>Hi</p>", "quoted-printable", "8bit"},
		{"cr at the end", "Hi\nBye\r", "<p>Hi</p>", "quoted-printable", "8bit"},
		{"nul", "Hi\x00 Tom, see you soon", "<p>Hi</p>\n", "quoted-printable", "8bit"},
		{"nul late", "Hi Tom, see you!\x00", "<p>Hi</p>\n", "quoted-printable", "8bit"},
		{"late non-ascii", "Rates this week: 6.1%, for Zoë", "<p>Rates this week: 6.1%, for Zoë</p>", "quoted-printable", "quoted-printable"},
		{"non-ascii in each word", "abcdefghijklmnopqrstuvwxyz" + "é" + "0123456789", "<p>" + strings.Repeat("-", 13) + "ü" + strings.Repeat("+", 20) + "</p>",
			"quoted-printable", "quoted-printable"},
		{"non-ascii in the first words", "ç" + strings.Repeat("x", 40), "<p>abcdefgh" + "ñ" + strings.Repeat("k", 30) + "</p>", "quoted-printable", "quoted-printable"},
		{"998 bytes a line", strings.Repeat("b", 998) + "\r\n" + strings.Repeat("c", 998) + "\n", "<p>" + strings.Repeat("d", 991) + "</p>", "8bit", "8bit"},
		{"999 bytes", "Hi\n" + strings.Repeat("e", 999), "<p>Hi</p>", "quoted-printable", "8bit"},
		{"999 bytes and a crlf", strings.Repeat("f", 999) + "\r\nBye", "<p>Hi</p>", "quoted-printable", "8bit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := &mailer.Mail{MessageID: "a1@pi-crm.example", From: "andy@example.com", To: "tom@example.com", Subject: "Rates", Text: c.text, HTML: c.html}
			raw, err := m.MIME()
			if err != nil {
				t.Fatal(err)
			}
			for i, line := range bytes.Split(raw, []byte("\r\n")) {
				if bytes.ContainsAny(line, "\r\n") {
					t.Fatalf("line %d has a bare CR or LF: %q", i+1, line)
				}
				if len(line) > 998 {
					t.Fatalf("line %d is %d bytes long", i+1, len(line))
				}
			}
			got := parts(t, raw)
			// Text line ends are CRLF in MIME whatever the encoding.
			crlf := func(s string) string {
				return strings.NewReplacer("\r\n", "\r\n", "\r", "\r\n", "\n", "\r\n").Replace(s)
			}
			for ct, want := range map[string][2]string{"text/plain": {c.wantText, c.text}, "text/html": {c.wantHTML, c.html}} {
				g := got[ct]
				if g[0] != want[0] {
					t.Errorf("%s went %q, want %q", ct, g[0], want[0])
				}
				w := crlf(want[1])
				if strings.TrimRight(g[1], "\r\n") != strings.TrimRight(w, "\r\n") {
					t.Errorf("%s reads back %q, want %q", ct, g[1], w)
				}
			}
		})
	}
}
