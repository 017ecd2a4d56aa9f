package emailtemplate

import (
	"strings"

	"zombiezen.com/go/sqlite"

	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/placeholder"
)

// Key is the placeholder key of a custom field's name: "Loan amount"
// becomes loan_amount, so the placeholder is {{custom.loan_amount}}.
func Key(name string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(strings.TrimSpace(name)) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			under = false
			continue
		}
		if !under && b.Len() > 0 {
			b.WriteByte('_')
			under = true
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}

// CustomKeys returns the placeholder keys of the custom fields that apply
// in workspace wsID.
func CustomKeys(conn *sqlite.Conn, wsID string) (map[string]bool, error) {
	defs, err := contact.FieldsIn(conn, wsID)
	if err != nil {
		return nil, err
	}
	return KeysOf(defs), nil
}

// KeysOf returns the placeholder keys of the custom fields defs.
func KeysOf(defs []contact.FieldDef) map[string]bool {
	keys := map[string]bool{}
	for _, d := range defs {
		if k := Key(d.Name); k != "" {
			keys[k] = true
		}
	}
	return keys
}

// PlaceholderNames returns every placeholder a template may use where the
// custom fields defs apply: placeholder.Names and custom.<key> for each.
func PlaceholderNames(defs []contact.FieldDef) []string {
	names := append([]string(nil), placeholder.Names...)
	for _, d := range defs {
		if k := Key(d.Name); k != "" {
			names = append(names, "custom."+k)
		}
	}
	return names
}
