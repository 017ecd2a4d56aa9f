// Package images keeps the pictures a workspace's email templates show:
// uploaded or fetched from a public URL (fetch.go), always decoded and
// encoded again here so what is stored is pixels and nothing else (no EXIF,
// no GPS, no comment, no polyglot file), turned upright by its EXIF
// orientation, scaled to what an email can use, and captioned on the server
// (caption.go) because Outlook drops CSS background images. The appliance
// stores them (store.go) and a message carries them as inline parts, since
// recipients cannot reach the LAN.
package images

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	_ "image/gif" // decode GIF uploads (the first frame); stored as PNG
	"image/jpeg"
	"image/png"
	"net/http"

	xdraw "golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // decode WebP uploads; they are stored as JPEG or PNG

	"github.com/pi-crm/pi-crm/pkg/errs"
)

// Limits of what is accepted and kept.
const (
	// MaxInputBytes is the largest file accepted, uploaded or fetched.
	MaxInputBytes = 10 << 20
	// MaxPixels refuses decompression bombs before they are decoded: a
	// small file that claims 20,000 × 20,000 pixels.
	MaxPixels = 40_000_000
	// MaxWidth is the widest image kept: twice the layout's 600 px column,
	// for sharp phones; wider ones are scaled down.
	MaxWidth = 1200
)

// Types are the accepted content types, as sniffed from the bytes (never
// from the name or the sender's header).
var Types = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// Clean is an image as it will be stored: re-encoded pixels.
type Clean struct {
	Data          []byte
	ContentType   string // image/png or image/jpeg
	Width, Height int
}

// Sanitize decodes b, applies its EXIF orientation, scales it to MaxWidth
// and encodes it again: PNG for images that may be transparent (PNG, GIF,
// WebP with alpha), JPEG otherwise. Anything that is not one of Types, too
// large, or does not decode is an Invalid error that says which.
func Sanitize(b []byte) (Clean, error) {
	if len(b) > MaxInputBytes {
		return Clean{}, errs.New(errs.Invalid, "The image is larger than %d MB.", MaxInputBytes>>20)
	}
	ct := http.DetectContentType(b)
	if !Types[ct] {
		return Clean{}, errs.New(errs.Invalid, "This is not a PNG, JPEG, GIF or WebP image (it looks like %s).", ct)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return Clean{}, errs.New(errs.Invalid, "The image could not be read: %v.", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > MaxPixels {
		return Clean{}, errs.New(errs.Invalid, "The image is %d × %d pixels; at most %d megapixels are accepted.", cfg.Width, cfg.Height, MaxPixels/1_000_000)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return Clean{}, errs.New(errs.Invalid, "The image could not be read: %v.", err)
	}
	if ct == "image/jpeg" {
		img = orient(img, orientation(b))
	}
	img = fit(img, MaxWidth)
	return encode(img, ct != "image/jpeg" && !opaque(img))
}

// encode writes img as PNG (keepAlpha) or JPEG at quality 85.
func encode(img image.Image, keepAlpha bool) (Clean, error) {
	var buf bytes.Buffer
	c := Clean{Width: img.Bounds().Dx(), Height: img.Bounds().Dy()}
	if keepAlpha {
		enc := png.Encoder{CompressionLevel: png.BestCompression}
		if err := enc.Encode(&buf, img); err != nil {
			return Clean{}, fmt.Errorf("encode png: %w", err)
		}
		c.ContentType = "image/png"
	} else {
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
			return Clean{}, fmt.Errorf("encode jpeg: %w", err)
		}
		c.ContentType = "image/jpeg"
	}
	c.Data = buf.Bytes()
	return c, nil
}

// opaque reports whether img has no transparent pixel.
func opaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return false
}

// fit scales img down to width w, keeping its aspect; a narrower image is
// returned as it is.
func fit(img image.Image, w int) image.Image {
	b := img.Bounds()
	if b.Dx() <= w {
		return img
	}
	h := max(1, b.Dy()*w/b.Dx())
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	return dst
}

// rgba copies img into an RGBA image whose origin is (0, 0).
func rgba(img image.Image) *image.RGBA {
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Src)
	return dst
}
