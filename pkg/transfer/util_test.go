package transfer_test

import (
	"context"
	"sort"
	"testing"

	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/transfer"
)

func slicesSort(s []string) { sort.Strings(s) }

// runImport plans job j with its guessed mapping and opt (when opt is not
// nil), starts and runs it to the end, and returns it as it finished.
func runImport(t *testing.T, im *transfer.Imports, actor auth.Actor, wsID string, j transfer.Job, opt *transfer.Options) transfer.Job {
	t.Helper()
	ctx := context.Background()
	if opt != nil {
		if _, err := im.Plan(ctx, actor, wsID, j.ID, j.Mapping, *opt); err != nil {
			t.Fatal(err)
		}
	}
	if err := im.Start(ctx, actor, wsID, j.ID); err != nil {
		t.Fatal(err)
	}
	if err := im.Runner().RunOne(ctx, transfer.KindImport, j.ID); err != nil {
		t.Fatal(err)
	}
	j, err := im.Get(ctx, actor, wsID, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	return j
}
