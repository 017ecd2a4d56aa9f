package backup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Rotation says what a rotation kept, removed and set aside.
type Rotation struct {
	Kept    []string // good snapshots kept, newest first
	Removed []string // good snapshots older than the newest Keep
	Corrupt []string // snapshots that failed their checksum, renamed *.corrupt
}

func isSnapshotName(n string) bool {
	return strings.HasPrefix(n, snapshotPrefix) && (strings.HasSuffix(n, snapshotExtPlain) || strings.HasSuffix(n, snapshotExtCrypt))
}

// Snapshots lists the snapshot files in dir, newest first.
func Snapshots(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && isSnapshotName(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	return names, nil
}

// overKeep returns the names beyond the newest keep.
func overKeep(names []string, keep int) []string {
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	if len(names) <= keep {
		return nil
	}
	return names[keep:]
}

// Rotate keeps the newest keep snapshots in dir that pass their checksum and
// deletes older good ones. A snapshot that fails its checksum is renamed
// *.corrupt and does not count toward keep, so a damaged file can never push
// the last good one out; nothing is deleted unless keep good ones remain.
func Rotate(dir string, keep int) (Rotation, error) {
	var r Rotation
	names, err := Snapshots(dir)
	if err != nil {
		return r, err
	}
	for _, n := range names {
		p := filepath.Join(dir, n)
		if len(r.Kept) >= keep {
			r.Removed = append(r.Removed, n)
			continue
		}
		if err := VerifyFile(p); err != nil {
			r.Corrupt = append(r.Corrupt, n)
			for _, s := range []string{"", checksumExtension} {
				if err := os.Rename(p+s, p+s+".corrupt"); err != nil && !errors.Is(err, os.ErrNotExist) {
					return r, fmt.Errorf("set aside %s: %w", n, err)
				}
			}
			continue
		}
		r.Kept = append(r.Kept, n)
	}
	for _, n := range r.Removed {
		p := filepath.Join(dir, n)
		if err := os.Remove(p); err != nil {
			return r, fmt.Errorf("rotate %s: %w", n, err)
		}
		os.Remove(p + checksumExtension)
	}
	return r, nil
}
