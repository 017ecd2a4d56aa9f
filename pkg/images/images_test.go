package images_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/images"
)

// photo is a w×h JPEG, red in its top-left quarter and blue elsewhere,
// with an EXIF block that says orientation o and carries a GPS-like
// comment that must not survive.
func photo(t *testing.T, w, h, o int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{0, 0, 255, 255}
			if x < w/2 && y < h/2 {
				c = color.RGBA{255, 0, 0, 255}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	// TIFF, little-endian: one IFD with Orientation, then a comment.
	var tiff bytes.Buffer
	tiff.WriteString("II")
	_ = binary.Write(&tiff, binary.LittleEndian, uint16(42))
	_ = binary.Write(&tiff, binary.LittleEndian, uint32(8))
	_ = binary.Write(&tiff, binary.LittleEndian, uint16(1))
	_ = binary.Write(&tiff, binary.LittleEndian, []uint16{0x0112, 3})
	_ = binary.Write(&tiff, binary.LittleEndian, uint32(1))
	_ = binary.Write(&tiff, binary.LittleEndian, []uint16{uint16(o), 0})
	_ = binary.Write(&tiff, binary.LittleEndian, uint32(0))
	tiff.WriteString("GPS 37.7749N 122.4194W secret-location")
	app1 := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(app1)+2))
	b := buf.Bytes()
	return append(append(append([]byte{0xFF, 0xD8}, seg...), app1...), b[2:]...)
}

func decode(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func isRed(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r > 0xc000 && g < 0x4000 && b < 0x4000
}

func TestSanitize(t *testing.T) {
	// Orientation 6: stored sideways, shown turned right. The red corner
	// (top-left as stored) shows top-right, and the image stands up.
	c, err := images.Sanitize(photo(t, 80, 40, 6))
	if err != nil {
		t.Fatal(err)
	}
	if c.Width != 40 || c.Height != 80 || c.ContentType != "image/jpeg" {
		t.Fatalf("orientation 6 gave %d×%d %s", c.Width, c.Height, c.ContentType)
	}
	img := decode(t, c.Data)
	if !isRed(img.At(30, 10)) || isRed(img.At(10, 10)) {
		t.Fatalf("not turned right: top-right red=%v top-left red=%v", isRed(img.At(30, 10)), isRed(img.At(10, 10)))
	}
	if bytes.Contains(c.Data, []byte("Exif")) || bytes.Contains(c.Data, []byte("secret-location")) {
		t.Fatal("the metadata survived")
	}
	// Orientation 1 (or none) keeps the pixels where they are.
	c, _ = images.Sanitize(photo(t, 80, 40, 1))
	if c.Width != 80 || !isRed(decode(t, c.Data).At(10, 10)) {
		t.Fatalf("orientation 1 changed the image: %d×%d", c.Width, c.Height)
	}
	// Orientation 3: upside down.
	c, _ = images.Sanitize(photo(t, 80, 40, 3))
	if !isRed(decode(t, c.Data).At(70, 30)) {
		t.Fatal("orientation 3 not turned")
	}

	// Wide images are scaled to MaxWidth; transparent ones stay PNG.
	wide := image.NewNRGBA(image.Rect(0, 0, 3000, 1000))
	wide.Set(5, 5, color.NRGBA{1, 2, 3, 0})
	var buf bytes.Buffer
	_ = png.Encode(&buf, wide)
	c, err = images.Sanitize(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if c.Width != images.MaxWidth || c.Height != 400 || c.ContentType != "image/png" {
		t.Fatalf("wide PNG gave %d×%d %s", c.Width, c.Height, c.ContentType)
	}

	// A PNG that claims 50,000 × 50,000 pixels is refused before decoding.
	bomb := pngHeader(50000, 50000)
	for name, b := range map[string][]byte{
		"bomb":   bomb,
		"svg":    []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>`),
		"html":   []byte(`<html><script>alert(1)</script></html>`),
		"pdf":    []byte("%PDF-1.4 ..."),
		"broken": append([]byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, bytes.Repeat([]byte{1}, 100)...),
		"huge":   make([]byte, images.MaxInputBytes+1),
	} {
		if _, err := images.Sanitize(b); errs.KindOf(err) != errs.Invalid {
			t.Errorf("%s: want Invalid, got %v", name, err)
		}
	}
}

// pngHeader is the start of a PNG whose IHDR claims w×h.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.Write([]byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'})
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6
	_ = binary.Write(&b, binary.BigEndian, uint32(13))
	b.WriteString("IHDR")
	b.Write(ihdr)
	b.Write([]byte{0, 0, 0, 0}) // CRC (not checked by DecodeConfig)
	return b.Bytes()
}

func TestCaption(t *testing.T) {
	blue := image.NewRGBA(image.Rect(0, 0, 600, 300))
	for i := range blue.Pix {
		if i%4 == 2 || i%4 == 3 {
			blue.Pix[i] = 255
		}
	}
	out, err := images.Caption{Text: "Open house Saturday 1–4 pm at 12 Oak Street", Position: "bottom", Size: 6, Color: "#ffffff", Band: true}.Draw(blue)
	if err != nil {
		t.Fatal(err)
	}
	if out.Bounds().Dx() != 600 || out.Bounds().Dy() != 300 {
		t.Fatalf("size changed: %v", out.Bounds())
	}
	white, darker := 0, 0
	for y := 0; y < 300; y++ {
		for x := 0; x < 600; x++ {
			r, g, b, _ := out.At(x, y).RGBA()
			if r > 0xe000 && g > 0xe000 && b > 0xe000 {
				white++
				if y < 150 {
					t.Fatalf("text at (%d, %d), above the bottom half", x, y)
				}
			}
			if b < 0xc000 && b > 0 && r < 0x2000 {
				darker++
			}
		}
	}
	if white < 500 || darker < 600*20 {
		t.Fatalf("caption: %d white pixels, %d in the band", white, darker)
	}
	top, _ := images.Caption{Text: "Sold!", Position: "top", Size: 10}.Draw(blue)
	found := false
	for y := 0; y < 100 && !found; y++ {
		for x := 0; x < 600; x++ {
			if r, _, _, _ := top.At(x, y).RGBA(); r > 0xe000 {
				found = true
				break
			}
		}
	}
	if !found {
		t.Fatal("no text at the top")
	}
	for _, bad := range []images.Caption{{Text: ""}, {Text: "x", Position: "left"}, {Text: "x", Size: 50}, {Text: "x", Color: "red"}, {Text: strings.Repeat("x", 201)}} {
		if _, err := bad.Draw(blue); errs.KindOf(err) != errs.Invalid {
			t.Errorf("%+v: want Invalid, got %v", bad, err)
		}
	}
}

// resolver answers names from a map, like a DNS server an attacker runs.
type resolver map[string][]string

func (r resolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, s := range r[host] {
		out = append(out, netip.MustParseAddr(s))
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}

func TestPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "1.1.1.1": true, "2606:4700:4700::1111": true,
		"127.0.0.1": false, "127.9.9.9": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "fe80::1": false, "fd00:ec2::254": false, "100.64.0.1": false, "0.0.0.0": false, "::": false,
		"224.0.0.1": false, "255.255.255.255": false, "::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "64:ff9b::a00:1": false,
		"192.0.2.1": false,
	} {
		if got := images.Public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Public(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestFetchRefusesTheLAN(t *testing.T) {
	var buf bytes.Buffer
	_ = png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 4, 4)))
	pic := buf.Bytes()
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		switch r.URL.Path {
		case "/pic.png":
			_, _ = w.Write(pic)
		case "/to-metadata":
			http.Redirect(w, r, "http://metadata.example/latest/meta-data/", http.StatusFound)
		case "/to-lan":
			http.Redirect(w, r, "http://10.0.0.1/admin", http.StatusFound)
		case "/to-file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/slow":
			time.Sleep(2 * time.Second)
		case "/big":
			w.Header().Set("Content-Length", fmt.Sprint(images.MaxInputBytes+10))
		case "/missing":
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	dns := resolver{
		"cdn.example":      {"127.0.0.1"},
		"metadata.example": {"169.254.169.254"},
		"router.example":   {"192.168.1.1"},
		"mixed.example":    {"93.184.216.34", "10.0.0.7"},
		"v6.example":       {"::1"},
		"tailnet.example":  {"100.101.102.103"},
	}
	at := func(host, p string) string { return fmt.Sprintf("http://%s:%d%s", host, port, p) }

	strict := &images.Fetcher{Resolver: dns}
	for _, u := range []string{at("127.0.0.1", "/pic.png"), at("cdn.example", "/pic.png"), at("metadata.example", "/"), at("router.example", "/"),
		at("mixed.example", "/"), at("v6.example", "/"), at("tailnet.example", "/"), at("[::1]", "/"), at("0.0.0.0", "/"), at("[::ffff:127.0.0.1]", "/")} {
		_, err := strict.Fetch(context.Background(), u)
		if errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "not a public internet address") {
			t.Errorf("%s: want refused, got %v", u, err)
		}
	}
	if hits != 0 {
		t.Fatalf("the server on loopback was reached %d times", hits)
	}

	// The test's own server is let through, and what it redirects to is
	// checked again.
	lenient := &images.Fetcher{Resolver: dns, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Timeout: 500 * time.Millisecond}
	b, err := lenient.Fetch(context.Background(), at("cdn.example", "/pic.png"))
	if err != nil || !bytes.Equal(b, pic) {
		t.Fatalf("allowed fetch: %d bytes, %v", len(b), err)
	}
	for p, says := range map[string]string{
		"/to-metadata": "169.254.169.254", "/to-lan": "10.0.0.1", "/to-file": "redirect to a file", "/slow": "did not answer",
		"/big": "larger than", "/missing": "404",
	} {
		_, err := lenient.Fetch(context.Background(), at("cdn.example", p))
		if errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), says) {
			t.Errorf("%s: want an error saying %q, got %v", p, says, err)
		}
	}
	for _, u := range []string{"file:///etc/passwd", "javascript:alert(1)", "ftp://example.com/x.png", "//example.com/x.png", "http://user:pw@example.com/x.png"} {
		if _, err := lenient.Fetch(context.Background(), u); errs.KindOf(err) != errs.Invalid {
			t.Errorf("%s: want Invalid, got %v", u, err)
		}
	}
}
