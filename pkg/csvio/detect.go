package csvio

import (
	"bufio"
	"bytes"
	"io"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Encodings a file may come in.
const (
	UTF8        = "UTF-8"
	UTF8BOM     = "UTF-8 with BOM"
	UTF16LE     = "UTF-16LE"
	UTF16BE     = "UTF-16BE"
	Windows1252 = "Windows-1252"
)

// sniffSize is how much of a file detection looks at.
const sniffSize = 64 << 10

// Decode detects r's encoding from its byte-order mark or, without one,
// from whether its first 64 KB are valid UTF-8 (Windows-1252 otherwise, as
// Excel and Outlook write on Windows), and returns a reader of UTF-8 text
// without the BOM, and the encoding's name.
func Decode(r io.Reader) (io.Reader, string) {
	br := bufio.NewReaderSize(r, sniffSize)
	head, _ := br.Peek(sniffSize)
	var enc encoding.Encoding
	name := UTF8
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		br.Discard(3)
		return br, UTF8BOM
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}):
		enc, name = unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM), UTF16LE
	case bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		enc, name = unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM), UTF16BE
	case looksUTF16(head, 1):
		enc, name = unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), UTF16LE
	case looksUTF16(head, 0):
		enc, name = unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), UTF16BE
	case !validUTF8Prefix(head):
		enc, name = charmap.Windows1252, Windows1252
	}
	if enc == nil {
		return br, name
	}
	return transform.NewReader(br, enc.NewDecoder()), name
}

// validUTF8Prefix is utf8.Valid, forgiving a rune cut at the sniff's end.
func validUTF8Prefix(b []byte) bool {
	for i := 0; i < 3 && len(b) > 0 && !utf8.Valid(b); i++ {
		b = b[:len(b)-1]
	}
	return utf8.Valid(b)
}

// looksUTF16 reports BOM-less UTF-16 text: most bytes at the odd (LE, odd=1)
// or even (BE) positions are zero, as ASCII text in UTF-16 has.
func looksUTF16(b []byte, zeroAt int) bool {
	if len(b) < 8 {
		return false
	}
	zeros, n := 0, 0
	for i := zeroAt; i < len(b); i += 2 {
		n++
		if b[i] == 0 {
			zeros++
		}
	}
	return zeros*10 >= n*9
}

// Delimiters are the ones DetectDelimiter chooses among.
var delimiters = []rune{',', ';', '\t', '|'}

// DetectDelimiter picks the delimiter that splits the first lines (outside
// quotes) into the same number of fields most often, preferring more fields.
func DetectDelimiter(sample []byte) rune {
	lines := splitLines(sample, 20)
	best, bestScore := ',', -1
	for _, d := range delimiters {
		counts := map[int]int{}
		for _, l := range lines {
			if n := countOutsideQuotes(l, byte(d)); n > 0 {
				counts[n]++
			}
		}
		for n, c := range counts {
			if score := c*1000 + n; score > bestScore {
				best, bestScore = d, score
			}
		}
	}
	return best
}

// splitLines returns up to n non-empty lines, keeping quoted newlines inside
// their line.
func splitLines(b []byte, n int) [][]byte {
	var out [][]byte
	start, inQ := 0, false
	for i := 0; i < len(b) && len(out) < n; i++ {
		switch b[i] {
		case '"':
			inQ = !inQ
		case '\n':
			if !inQ {
				if l := bytes.TrimRight(b[start:i], "\r"); len(bytes.TrimSpace(l)) > 0 {
					out = append(out, l)
				}
				start = i + 1
			}
		}
	}
	if len(out) < n && start < len(b) {
		if l := bytes.TrimSpace(b[start:]); len(l) > 0 {
			out = append(out, l)
		}
	}
	return out
}

func countOutsideQuotes(l []byte, d byte) int {
	n, inQ := 0, false
	for _, c := range l {
		switch {
		case c == '"':
			inQ = !inQ
		case c == d && !inQ:
			n++
		}
	}
	return n
}
