package api

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pi-crm/pi-crm/pkg/errs"
)

// FuzzDecode: any body either decodes or yields an Invalid error with a
// message; nothing panics and nothing else escapes.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"name":"x"}`, `{"settings":{"time_zone":"UTC"}}`, `{`, `[]`, `{"name":1}`, `null`, `{"a":1}`, "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var in workspaceInput
		err := decode(httptest.NewRequest("POST", "/", strings.NewReader(body)), &in)
		if err != nil && (!errors.Is(err, errs.ErrInvalid) || errs.As(err).Message == "") {
			t.Fatalf("body %q: err=%v, want nil or Invalid with a message", body, err)
		}
	})
}
