package web

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/microcosm-cc/bluemonday"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/contact"
)

// templateFuncs are the helpers templates may call.
func templateFuncs(static *staticFiles) template.FuncMap {
	notes := contact.Sanitizer()
	return template.FuncMap{
		"static": static.URL,
		"json": func(v any) string {
			if v == nil {
				return ""
			}
			b, _ := json.Marshal(v)
			return string(b)
		},
		"phone": contact.FormatPhone,
		"birthday": func(b *contact.Birthday) string {
			if b == nil {
				return ""
			}
			d := time.Month(b.Month).String() + " " + strconv.Itoa(b.Day)
			if b.Year != 0 {
				d += ", " + strconv.Itoa(b.Year)
			}
			return d
		},
		"details": auditDetails,
		// count writes "1 row", "3 rows": count n "row" "rows".
		"count": func(n int, one, many string) string {
			if n == 1 {
				return "1 " + one
			}
			return fmt.Sprintf("%d %s", n, many)
		},
		"linkify":   linkify,
		"kindIcon":  kindIcon,
		"entryBody": func(e activity.Entry) template.HTML { return entryBody(notes, e) },
		"sortTH":    sortTH,
		"join":      strings.Join,
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[fmt.Sprint(kv[i])] = kv[i+1]
			}
			return m
		},
	}
}

var urlPattern = regexp.MustCompile(`https?://[^\s<>"']+[^\s<>"'.,;:!?)\]]`)

// linkify escapes text and turns its http(s) URLs into links that open
// safely in a new tab.
func linkify(text string) template.HTML {
	var b strings.Builder
	last := 0
	for _, m := range urlPattern.FindAllStringIndex(text, -1) {
		b.WriteString(template.HTMLEscapeString(text[last:m[0]]))
		u := text[m[0]:m[1]]
		if _, err := url.Parse(u); err == nil {
			fmt.Fprintf(&b, `<a href="%s" rel="noopener noreferrer nofollow" target="_blank" class="text-indigo-700 underline">%s</a>`,
				template.HTMLEscapeString(u), template.HTMLEscapeString(u))
		} else {
			b.WriteString(template.HTMLEscapeString(u))
		}
		last = m[1]
	}
	b.WriteString(template.HTMLEscapeString(text[last:]))
	return template.HTML(b.String()) //nolint:gosec // every piece above is escaped
}

func kindIcon(k activity.Kind) string {
	switch k {
	case activity.Email:
		return "✉"
	case activity.SMS:
		return "💬"
	case activity.Call:
		return "📞"
	case activity.AI:
		return "✨"
	case activity.Stage:
		return "➜"
	case activity.Tag:
		return "🏷"
	case activity.Note:
		return "📝"
	case activity.Field:
		return "✎"
	}
	return "⚙"
}

// entryBody renders a log entry's full content. Notes were sanitized on the
// way in and are sanitized again here, so a row written by anything else
// still cannot inject markup.
func entryBody(p *bluemonday.Policy, e activity.Entry) template.HTML {
	switch e.Kind {
	case activity.Note:
		var b activity.NoteBody
		_ = json.Unmarshal(e.Body, &b)
		return template.HTML(p.Sanitize(b.HTML)) //nolint:gosec // sanitized by the allow-list
	case activity.Call:
		var b activity.CallBody
		_ = json.Unmarshal(e.Body, &b)
		return template.HTML(fmt.Sprintf("%d min%s", b.DurationSeconds/60, notesSuffix(b.Notes))) //nolint:gosec // notes escaped
	case activity.Field:
		var b activity.FieldBody
		_ = json.Unmarshal(e.Body, &b)
		return template.HTML("<p class=\"text-xs text-slate-500\">Before:</p><p class=\"whitespace-pre-wrap\">" + string(linkify(b.From)) +
			"</p><p class=\"mt-1 text-xs text-slate-500\">After:</p><p class=\"whitespace-pre-wrap\">" + string(linkify(b.To)) + "</p>") //nolint:gosec // linkify escapes
	}
	return template.HTML(template.HTMLEscapeString(e.Summary)) //nolint:gosec // escaped
}

func notesSuffix(n string) string {
	if n == "" {
		return ""
	}
	return ": " + template.HTMLEscapeString(n)
}

type sortLink struct {
	URL, Label  string
	Key         string
	Active, Asc bool
}

// sortTH builds a column header link for the contact list: clicking the
// active column flips the order; the cursor is dropped.
func sortTH(p *page, key, label string) sortLink {
	d, _ := p.Data.(contactListData)
	v := url.Values{}
	for k, vs := range d.QS {
		v[k] = vs
	}
	v.Del("after")
	active := d.Query.Sort == key || (d.Query.Sort == "" && key == "created")
	v.Set("sort", key)
	if active && !d.Query.Asc {
		v.Set("order", "asc")
	} else {
		v.Del("order")
	}
	return sortLink{URL: "?" + v.Encode(), Label: label, Key: key, Active: active, Asc: d.Query.Asc}
}

// detail is one audit detail as a person reads it.
type detail struct{ Key, Value string }

// auditDetails turns an audit row's details into sorted "workspace id:
// ..." pairs instead of raw JSON.
func auditDetails(m map[string]any) []detail {
	out := make([]detail, 0, len(m))
	for k, v := range m {
		var val string
		switch x := v.(type) {
		case string:
			val = x
		case nil:
			val = "none"
		case bool:
			val = map[bool]string{true: "yes", false: "no"}[x]
		case float64:
			val = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			b, _ := json.Marshal(x)
			val = string(b)
		}
		out = append(out, detail{Key: strings.ReplaceAll(k, "_", " "), Value: val})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
