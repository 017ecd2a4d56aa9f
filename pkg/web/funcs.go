package web

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/phone"
	"github.com/pi-crm/pi-crm/pkg/richtext"
)

// templateFuncs are the helpers templates may call.
func templateFuncs(static *staticFiles) template.FuncMap {
	notes := richtext.New()
	return template.FuncMap{
		"static": static.URL,
		"json": func(v any) string {
			if v == nil {
				return ""
			}
			b, _ := json.Marshal(v)
			return string(b)
		},
		"phone": phone.Format,
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
		"list": func(v ...string) []string { return v },
		// duration says a drip step's wait: "3 days 4 hours", "at once".
		"duration": func(d time.Duration) string {
			days, hours := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
			var parts []string
			if days > 0 {
				parts = append(parts, strconv.Itoa(days)+map[bool]string{true: " day", false: " days"}[days == 1])
			}
			if hours > 0 {
				parts = append(parts, strconv.Itoa(hours)+map[bool]string{true: " hour", false: " hours"}[hours == 1])
			}
			if len(parts) == 0 {
				return "at once"
			}
			return strings.Join(parts, " ")
		},
		// has reports whether the space-separated words hold w.
		"has": func(words, w string) bool { return slices.Contains(strings.Fields(words), w) },
		// seconds is a duration in whole seconds, at least 1.
		"seconds":   func(d time.Duration) int { return max(int(d/time.Second), 1) },
		"count":     plural,
		"linkify":   linkify,
		"kindIcon":  kindIcon,
		"entryBody": func(e activity.Entry) template.HTML { return entryBody(notes, e) },
		"standing":  standing,
		"sortTH":    sortTH,
		"join":      strings.Join,
		"kb":        func(n int) string { return strconv.FormatFloat(float64(n)/1024, 'f', 1, 64) },
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

func kindIcon(k activity.Kind) template.HTML {
	paths, ok := kindPaths[k]
	if !ok {
		paths = kindPaths[activity.System]
	}
	return template.HTML(`<svg viewBox="0 0 24 24" width="16" height="16" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">` + //nolint:gosec // constant markup
		paths + `</svg>`)
}

// kindPaths draw each kind's log icon as inline SVG: emoji need a font the
// Pi's browser may lack, and an icon font is another download.
var kindPaths = map[activity.Kind]string{
	activity.Email:  `<rect x="3" y="5" width="18" height="14" rx="2"/><path d="m3 7 9 6 9-6"/>`,
	activity.SMS:    `<path d="M4 5h16v11H9l-5 4z"/>`,
	activity.Call:   `<path d="M5 4h4l2 5-2.5 1.5a11 11 0 0 0 5 5L15 13l5 2v4a2 2 0 0 1-2 2A16 16 0 0 1 3 6a2 2 0 0 1 2-2z"/>`,
	activity.AI:     `<path d="M12 3l2 6 6 2-6 2-2 6-2-6-6-2 6-2z"/>`,
	activity.Stage:  `<path d="M4 12h15M13 6l6 6-6 6"/>`,
	activity.Tag:    `<path d="M3 12V3h9l9 9-9 9z"/><circle cx="7.5" cy="7.5" r="1.5"/>`,
	activity.Note:   `<path d="M6 3h9l4 4v14H6zM9 12h7M9 16h7"/>`,
	activity.Field:  `<path d="M4 20h4L19 9l-4-4L4 16z"/>`,
	activity.System: `<circle cx="12" cy="12" r="3"/><path d="M12 2v3M12 19v3M2 12h3M19 12h3M5 5l2 2M17 17l2 2M5 19l2-2M17 7l2-2"/>`,
}

// entryBody renders a log entry's full content. Notes were sanitized on the
// way in and are sanitized again here, so a row written by anything else
// still cannot inject markup.
func entryBody(p *richtext.Policy, e activity.Entry) template.HTML {
	switch e.Kind {
	case activity.Note:
		var b activity.NoteBody
		_ = json.Unmarshal(e.Body, &b)
		return template.HTML(p.Clean(b.HTML)) //nolint:gosec // sanitized by the allow-list
	case activity.Call:
		var b activity.CallBody
		_ = json.Unmarshal(e.Body, &b)
		return template.HTML(fmt.Sprintf("%d min%s", b.DurationSeconds/60, notesSuffix(b.Notes))) //nolint:gosec // notes escaped
	case activity.Email:
		var b activity.EmailBody
		_ = json.Unmarshal(e.Body, &b)
		if b.Subject == "" && b.Text == "" {
			break
		}
		status := sentLine(b.Status, b.Delivery, b.Error, b.To)
		return template.HTML(status + "<p class=\"font-medium\">" + template.HTMLEscapeString(b.Subject) + "</p><p class=\"whitespace-pre-wrap\">" + string(linkify(b.Text)) + "</p>") //nolint:gosec // escaped
	case activity.SMS:
		var b activity.SMSBody
		_ = json.Unmarshal(e.Body, &b)
		if b.Text == "" {
			break
		}
		return template.HTML(sentLine(b.Status, b.Delivery, b.Error, b.To) + "<p class=\"whitespace-pre-wrap\">" + string(linkify(b.Text)) + "</p>") //nolint:gosec // linkify escapes
	case activity.Field:
		var b activity.FieldBody
		_ = json.Unmarshal(e.Body, &b)
		return template.HTML("<p class=\"text-xs text-slate-500\">Before:</p><p class=\"whitespace-pre-wrap\">" + string(linkify(b.From)) +
			"</p><p class=\"mt-1 text-xs text-slate-500\">After:</p><p class=\"whitespace-pre-wrap\">" + string(linkify(b.To)) + "</p>") //nolint:gosec // linkify escapes
	}
	return template.HTML(template.HTMLEscapeString(e.Summary)) //nolint:gosec // escaped
}

// sentLine is the first line of a message the appliance sent (status is
// its outbox state, kept current by the outbox): to whom, the state, the
// provider's word on it once it went and why it failed. Other messages
// (received ones, those logged by hand) have none.
func sentLine(status, delivery, why, to string) string {
	if status == "" {
		return ""
	}
	line := "<p class=\"text-xs text-slate-500\" data-status=\"" + template.HTMLEscapeString(status) + "\">To " + template.HTMLEscapeString(to) + " · " + template.HTMLEscapeString(status)
	if delivery != "" {
		line += " · " + template.HTMLEscapeString(delivery)
	}
	return line + errSuffix(why) + "</p>"
}

// outcome is where a message the appliance sent stands, for the log's
// summary line: Word is the provider's word on it once it was sent
// (delivered, bounced...), its outbox state before (queued, failed,
// unknown...); Tone colours what needs the user (red: it did not or will
// not arrive; amber: not yet known, or it will be tried again).
type outcome struct{ Word, Tone string }

// tones colours the words of outcome; the rest stay grey.
var tones = map[string]string{
	"failed": "text-red-700", "dropped": "text-red-700", "bounced": "text-red-700", "undelivered": "text-red-700", "complained": "text-red-700",
	"unknown": "text-amber-700", "retrying": "text-amber-700", "deferred": "text-amber-700", "unsubscribed": "text-amber-700",
}

// standing returns the outcome of log entry e, a zero one for entries that
// are not a message the appliance sent.
func standing(e activity.Entry) outcome {
	if e.Kind != activity.Email && e.Kind != activity.SMS {
		return outcome{}
	}
	var b struct {
		Status   string `json:"status"`
		Delivery string `json:"delivery"`
	}
	_ = json.Unmarshal(e.Body, &b)
	w := b.Status
	if w == "sent" && b.Delivery != "" {
		w = b.Delivery
	}
	return outcome{Word: w, Tone: tones[w]}
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

// errSuffix is ": why" for a message that did not go out, escaped.
func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return ": " + template.HTMLEscapeString(e)
}
