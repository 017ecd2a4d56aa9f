package migrations

import "testing"

func TestScriptsNumberedWithoutGaps(t *testing.T) {
	s, err := Scripts()
	if err != nil {
		t.Fatal(err)
	}
	if len(s) == 0 || Version() != len(s) {
		t.Fatalf("%d scripts, Version()=%d", len(s), Version())
	}
}
