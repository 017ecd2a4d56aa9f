package images

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"strings"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"github.com/pi-crm/pi-crm/pkg/errs"
)

// Caption is text drawn onto an image.
type Caption struct {
	Text string
	// Position is "top", "center" or "bottom".
	Position string
	// Size is the text's height as a percentage of the image's width
	// (2 to 20): the same caption reads alike on any image.
	Size int
	// Color is the text's colour, "#rrggbb".
	Color string
	// Band draws a translucent band of BandColor behind the text, so it
	// reads on a busy photo.
	Band      bool
	BandColor string
}

// MaxCaption bounds the caption's length, in characters.
const MaxCaption = 200

// Positions are the places a caption can go.
var Positions = []string{"top", "center", "bottom"}

// check validates c and fills its defaults.
func (c *Caption) check() (color.RGBA, color.RGBA, error) {
	fe := errs.Fields{}
	c.Text = strings.TrimSpace(c.Text)
	switch {
	case c.Text == "":
		fe.Add("text", "Write the caption.")
	case utf8.RuneCountInString(c.Text) > MaxCaption:
		fe.Add("text", fmt.Sprintf("Use at most %d characters.", MaxCaption))
	}
	if c.Position == "" {
		c.Position = "bottom"
	}
	if c.Position != "top" && c.Position != "center" && c.Position != "bottom" {
		fe.Add("position", "Choose top, center or bottom.")
	}
	if c.Size == 0 {
		c.Size = 6
	}
	if c.Size < 2 || c.Size > 20 {
		fe.Add("size", "Choose a size from 2 to 20.")
	}
	if c.Color == "" {
		c.Color = "#ffffff"
	}
	fg, ok := hexColor(c.Color)
	if !ok {
		fe.Add("color", "Give a colour such as #ffffff.")
	}
	if c.BandColor == "" {
		c.BandColor = "#000000"
	}
	bg, ok := hexColor(c.BandColor)
	if !ok {
		fe.Add("band_color", "Give a colour such as #000000.")
	}
	return fg, bg, fe.Err()
}

func hexColor(s string) (color.RGBA, bool) {
	var r, g, b uint8
	if len(s) != 7 || s[0] != '#' {
		return color.RGBA{}, false
	}
	if _, err := fmt.Sscanf(s[1:], "%02x%02x%02x", &r, &g, &b); err != nil {
		return color.RGBA{}, false
	}
	return color.RGBA{R: r, G: g, B: b, A: 255}, true
}

// Draw returns img with c drawn on it: the text in Go Bold, wrapped to the
// image's width with a margin, centred, on a band when asked. The image's
// size does not change.
func (c Caption) Draw(img image.Image) (image.Image, error) {
	fg, bg, err := c.check()
	if err != nil {
		return nil, err
	}
	f, err := opentype.Parse(gobold.TTF)
	if err != nil {
		return nil, fmt.Errorf("caption font: %w", err)
	}
	dst := rgba(img)
	w, h := dst.Bounds().Dx(), dst.Bounds().Dy()
	px := float64(w*c.Size) / 100
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: px, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("caption face: %w", err)
	}
	defer face.Close()
	margin := w / 20
	lines := wrap(face, c.Text, fixed.I(w-2*margin))
	m := face.Metrics()
	lineH := (m.Ascent + m.Descent).Ceil()
	blockH := lineH * len(lines)
	pad := lineH / 3
	var top int
	switch c.Position {
	case "top":
		top = margin
	case "center":
		top = (h - blockH) / 2
	default:
		top = h - margin - blockH
	}
	if c.Band {
		band := image.Rect(0, max(0, top-pad), w, min(h, top+blockH+pad))
		translucent := color.NRGBA{R: bg.R, G: bg.G, B: bg.B, A: 150}
		draw.Draw(dst, band, image.NewUniform(translucent), image.Point{}, draw.Over)
	}
	d := font.Drawer{Dst: dst, Src: image.NewUniform(fg), Face: face}
	for i, line := range lines {
		adv := d.MeasureString(line)
		d.Dot = fixed.Point26_6{X: (fixed.I(w) - adv) / 2, Y: fixed.I(top+i*lineH) + m.Ascent}
		d.DrawString(line)
	}
	return dst, nil
}

// wrap breaks text into lines no wider than width, at spaces; a word wider
// than a line stands alone.
func wrap(face font.Face, text string, width fixed.Int26_6) []string {
	var lines []string
	for _, para := range strings.Split(text, "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			try := word
			if line != "" {
				try = line + " " + word
			}
			if line != "" && font.MeasureString(face, try) > width {
				lines = append(lines, line)
				line = word
				continue
			}
			line = try
		}
		if line != "" {
			lines = append(lines, line)
		}
	}
	return lines
}
