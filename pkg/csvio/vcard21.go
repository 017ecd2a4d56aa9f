package csvio

import (
	"bytes"
	"io"
	"mime/quotedprintable"
	"strings"

	"golang.org/x/text/encoding/htmlindex"
)

// prepCard rewrites one card's raw lines into the vCard 3.0 form the
// decoder reads, so the cards Android phones export (vCard 2.1) and the
// loose 3.0 some tools write import like any other:
//
//   - ENCODING=QUOTED-PRINTABLE values are decoded, soft line breaks
//     ("=" at the end of a line) joined, in their CHARSET (UTF-8 if none),
//     and a decoded line break becomes vCard's "\n";
//   - bare type parameters (TEL;CELL;PREF:, EMAIL;HOME:) become TYPE=...:
//     the decoder would otherwise read "CELL:+1808..." as a parameter and
//     lose the number;
//   - PHOTO is dropped: a CRM keeps no photos, and a 2.1 photo's base64
//     runs over lines the 3.0 decoder does not expect.
func prepCard(raw []byte) []byte {
	lines := strings.Split(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n")
	var out bytes.Buffer
	skipping := false // inside a dropped PHOTO: its continuation lines
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if line == "" {
			skipping = false
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if !skipping {
				out.WriteString(line + "\r\n")
			}
			continue
		}
		skipping = false
		head, value, ok := cutUnquoted(line, ':')
		if !ok {
			continue // not a property line: a 2.1 base64 body without indent
		}
		parts := strings.Split(head, ";")
		name := parts[0]
		if bare := name[strings.LastIndexByte(name, '.')+1:]; strings.EqualFold(bare, "PHOTO") || strings.EqualFold(bare, "LOGO") || strings.EqualFold(bare, "SOUND") {
			skipping = true
			continue
		}
		var params, types []string
		qp, charset := false, ""
		for _, p := range parts[1:] {
			k, v, hasValue := strings.Cut(p, "=")
			switch {
			case !hasValue:
				types = append(types, strings.ToLower(k))
			case strings.EqualFold(k, "ENCODING") && strings.EqualFold(v, "QUOTED-PRINTABLE"):
				qp = true
			case strings.EqualFold(k, "CHARSET"):
				charset = v
			default:
				params = append(params, p)
			}
		}
		if qp {
			// Soft line breaks: the value goes on in the next line.
			for strings.HasSuffix(value, "=") && i+1 < len(lines) {
				i++
				value = value[:len(value)-1] + strings.TrimLeft(lines[i], " \t")
			}
			value = decodeQP(value, charset)
		} else if charset != "" && !strings.EqualFold(charset, "UTF-8") {
			value = decodeCharset([]byte(value), charset)
		}
		if len(types) > 0 {
			params = append(params, "TYPE="+strings.Join(types, ","))
		}
		out.WriteString(name)
		for _, p := range params {
			out.WriteString(";" + p)
		}
		out.WriteString(":" + value + "\r\n")
	}
	return out.Bytes()
}

// cutUnquoted cuts s at the first sep outside double quotes.
func cutUnquoted(s string, sep byte) (string, string, bool) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case sep:
			if !quoted {
				return s[:i], s[i+1:], true
			}
		}
	}
	return s, "", false
}

// decodeQP decodes a quoted-printable value in charset and escapes its line
// breaks as vCard 3.0 does. A value that does not decode is kept as it is.
func decodeQP(v, charset string) string {
	b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(v)))
	if err != nil {
		return v
	}
	s := decodeCharset(b, charset)
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	return strings.ReplaceAll(s, "\n", `\n`)
}

// decodeCharset turns b from the named charset into UTF-8; UTF-8, an
// unknown name or bytes that do not decode come back unchanged.
func decodeCharset(b []byte, charset string) string {
	if charset == "" || strings.EqualFold(charset, "UTF-8") {
		return string(b)
	}
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return string(b)
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return string(b)
	}
	return string(out)
}
