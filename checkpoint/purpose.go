package checkpoint

import "fmt"

// Purpose says why a checkpoint was made; it orders the scheduler's queue.
type Purpose string

const (
	// PurposeManual is an operator's `checkpoint create`: someone waits.
	PurposeManual Purpose = "manual"
	// PurposeDuplication is a duplication's base: a remote cluster waits.
	PurposeDuplication Purpose = "duplication"
	// PurposeFailback is the base of a duplication back to a cluster that
	// was this table's source (dup resync): taken as the data is, without
	// waiting for compactions, so it lists the files the remote still
	// holds from the base it once sent here (duplication/reuse.go).
	PurposeFailback Purpose = "failback"
	// PurposeRaftSnapshot feeds a raft snapshot.
	PurposeRaftSnapshot Purpose = "raft-snapshot"
	// PurposePeriodic is the background checkpoint taken every interval.
	PurposePeriodic Purpose = "periodic"
)

// ParsePurpose validates a purpose name.
func ParsePurpose(s string) (Purpose, error) {
	switch p := Purpose(s); p {
	case PurposeManual, PurposeDuplication, PurposeFailback, PurposeRaftSnapshot, PurposePeriodic:
		return p, nil
	}
	return "", fmt.Errorf("%w: unknown checkpoint purpose %q", ErrInvalid, s)
}

// priority orders purposes: lower runs first.
func priority(p Purpose) int {
	switch p {
	case PurposeManual, PurposeDuplication, PurposeFailback:
		return 0
	case PurposeRaftSnapshot:
		return 1
	}
	return 2
}
