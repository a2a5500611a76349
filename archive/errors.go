package archive

import (
	"errors"
	"fmt"
	"time"
)

// The archive package's sentinels.
var (
	// ErrArchiveExists is returned when a table already has an archive.
	ErrArchiveExists = errors.New("archive: table already archived")
	// ErrArchiveNotFound is returned for a table without an archive, or an
	// archive URL that holds nothing of the table.
	ErrArchiveNotFound = errors.New("archive: not found")
	// ErrBadURL is returned for an archive URL the blob library cannot
	// open (unknown scheme, malformed).
	ErrBadURL = errors.New("archive: bad archive url")
	// ErrPointUnreachable is returned when a restore point is before the
	// first base, past the archived log, or in a gap; the error is a
	// *PointError that names the nearest reachable point.
	ErrPointUnreachable = errors.New("archive: restore point unreachable")
	// ErrCorrupt is returned when an archived object does not match its
	// checksum or cannot be decoded; nothing of it is installed.
	ErrCorrupt = errors.New("archive: corrupted object")
	// ErrStoreUnavailable is returned when the object store does not answer.
	ErrStoreUnavailable = errors.New("archive: object store unavailable")
)

// PointError says why a restore point cannot be reached on a partition and
// which reachable points are nearest (0 / zero time when there is none on
// that side).
type PointError struct {
	Partition uint32
	// Wanted is the point asked for, as a decree or a time.
	WantedDecree uint64
	WantedTime   time.Time
	// Below and Above are the nearest reachable decrees before and after
	// the point; BelowTime and AboveTime their times when known.
	Below, Above         uint64
	BelowTime, AboveTime time.Time
	Reason               string
}

func (e *PointError) Error() string {
	want := fmt.Sprintf("decree %d", e.WantedDecree)
	if !e.WantedTime.IsZero() {
		want = "time " + e.WantedTime.UTC().Format(time.RFC3339Nano)
	}
	msg := fmt.Sprintf("%s: partition %d, %s: %s", ErrPointUnreachable.Error(), e.Partition, want, e.Reason)
	if e.Below > 0 {
		msg += fmt.Sprintf("; nearest reachable before: decree %d%s", e.Below, timeNote(e.BelowTime))
	}
	if e.Above > 0 {
		msg += fmt.Sprintf("; nearest reachable after: decree %d%s", e.Above, timeNote(e.AboveTime))
	}
	return msg
}

func (e *PointError) Unwrap() error { return ErrPointUnreachable }

func timeNote(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return " (" + t.UTC().Format(time.RFC3339Nano) + ")"
}
