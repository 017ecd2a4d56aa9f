package numplan

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestWorkersLinkNoPhoneParser keeps libphonenumber out of the daemons
// that never parse a typed number: a package that imports it (or pkg/phone)
// anywhere in their graph puts its 1.7 MB of metadata back on their heap
// from start-up, whether or not they call it. crm-web, which parses what
// people type, does link it: that shows the check reads the graph.
func TestWorkersLinkNoPhoneParser(t *testing.T) {
	const lib = "github.com/nyaruka/phonenumbers"
	deps := func(cmd string) []string {
		out, err := exec.Command("go", "list", "-deps", "../../cmd/"+cmd).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", cmd, err)
		}
		return strings.Fields(string(out))
	}
	for _, cmd := range []string{"crm-sender", "crm-insights", "crm-health"} {
		d := deps(cmd)
		if slices.Contains(d, lib) || slices.Contains(d, "github.com/pi-crm/pi-crm/pkg/phone") {
			t.Errorf("%s links %s or pkg/phone: use pkg/numplan, or give contact.NewStore its parser from the binaries that parse", cmd, lib)
		}
		if cmd == "crm-sender" && !slices.Contains(d, "github.com/pi-crm/pi-crm/pkg/numplan") {
			t.Errorf("crm-sender does not link pkg/numplan (its quiet hours read time zones from it)")
		}
	}
	if !slices.Contains(deps("crm-web"), lib) {
		t.Errorf("crm-web does not link %s", lib)
	}
}
