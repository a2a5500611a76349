package replica

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// A switchover fences a partition: a raft entry after which no client
// mutation applies, on every replica alike (deterministic, in the log), so
// a write that passed every check before the fence but reached the log
// after it is refused, never applied beyond the cut the remote copies.
// Shipped (duplicated) entries still apply: the fenced table becomes the
// follower of the reversed duplication.

// ErrFenced is the result of a client write that reached the log after
// its partition was fenced for a switchover: it did not apply (a retry
// at the new primary is safe).
var ErrFenced = errors.New("replica: partition fenced for a switchover")

// commandKindDupStep: a duplication step on the partition's state (fence,
// unfence, start following from a source decree). Kinds 6-11 are left to
// other features.
const commandKindDupStep byte = 12

// Duplication steps.
const (
	stepFence   byte = 1
	stepUnfence byte = 2
	stepFollow  byte = 3
	// stepUnfollow: a promoted follower applies no shipped entry after it.
	stepUnfollow byte = 4
)

func encodeDupStep(step byte, decree uint64) []byte {
	return binary.AppendUvarint([]byte{commandVersion, commandKindDupStep, step}, decree)
}

func decodeDupStep(b []byte) (byte, uint64, error) {
	if len(b) < 2 || b[0] < stepFence || b[0] > stepUnfollow {
		return 0, 0, fmt.Errorf("%w: bad duplication step", ErrMalformedCommand)
	}
	d, k := binary.Uvarint(b[1:])
	if k <= 0 || k != len(b)-1 {
		return 0, 0, fmt.Errorf("%w: bad duplication step decree", ErrMalformedCommand)
	}
	return b[0], d, nil
}

// applyStep applies a duplication step at decree index.
func (b *batchState) applyStep(cmd command, index uint64) {
	switch cmd.Step {
	case stepFence:
		if b.fencedAt == 0 || b.unfencedAt != 0 {
			b.fencedAt, b.unfencedAt = index, 0
		}
	case stepUnfence:
		if b.fencedAt != 0 && b.unfencedAt == 0 {
			b.unfencedAt = index
		}
	case stepFollow:
		// A table that follows a new source starts at exactly this source
		// decree, whatever an earlier direction left stored.
		b.src, b.replicatedMs, b.srcReset = cmd.UpTo, 0, true
		b.unfollowed = false
	case stepUnfollow:
		b.unfollowed = true
	}
}

// fenced reports whether a client mutation at decree index is refused.
func (s dupState) fenced(index uint64) bool {
	return s.fencedAt != 0 && index > s.fencedAt && (s.unfencedAt == 0 || index < s.unfencedAt)
}

// proposeStep proposes a step as a raft entry of its own (never batched
// with client writes, whose entry's one result it would share).
func (r *Replica) proposeStep(ctx context.Context, step byte, decree uint64) (uint64, error) {
	if r.raft.State() != raft.Leader {
		return 0, ErrNotLeader
	}
	f := r.raft.Apply(encodeDupStep(step, decree), r.timeout(ctx))
	if err := f.Error(); err != nil {
		return 0, mapRaftError(err)
	}
	if err, ok := f.Response().(error); ok {
		return 0, err
	}
	return f.Index(), nil
}

// Fence stops client writes at a raft entry, on every replica, and
// returns its decree: every write acknowledged before has a lower one. A
// partition fenced already (and not unfenced since) keeps its fence.
func (r *Replica) Fence(ctx context.Context) (uint64, error) {
	if at, ok := r.FencedAt(); ok {
		return at, nil
	}
	if _, err := r.proposeStep(ctx, stepFence, 0); err != nil {
		return 0, err
	}
	at, _ := r.FencedAt()
	return at, nil
}

// Unfence lets client writes apply again (the partition became a primary
// again); a partition that is not fenced is left as it is.
func (r *Replica) Unfence(ctx context.Context) error {
	if _, ok := r.FencedAt(); !ok {
		return nil
	}
	_, err := r.proposeStep(ctx, stepUnfence, 0)
	return err
}

// FencedAt returns the fence decree while the partition is fenced.
func (r *Replica) FencedAt() (uint64, bool) {
	s := r.fsm.dupState()
	return s.fencedAt, s.fencedAt != 0 && s.unfencedAt == 0
}

// FollowFrom makes the partition a follower that resumes at source decree
// d (no base: its data equals the source's at d), resetting the
// replicated time, and returns once applied here.
func (r *Replica) FollowFrom(ctx context.Context, d uint64) error {
	if d == 0 {
		return fmt.Errorf("%w: follow from source decree 0", ErrMalformedCommand)
	}
	_, err := r.proposeStep(ctx, stepFollow, d)
	return err
}

// Unfollow ends following: no shipped entry applies after it (a batch a
// stopping puller still had in flight cannot overwrite writes the now
// writable table takes). It returns the source decree and replicated time
// the partition ends with, exact once it applied here.
func (r *Replica) Unfollow(ctx context.Context) (uint64, time.Time, error) {
	if !r.fsm.dupState().unfollowed {
		if _, err := r.proposeStep(ctx, stepUnfollow, 0); err != nil {
			return 0, time.Time{}, err
		}
	}
	return r.SourceDecree(), r.ReplicatedTime(), nil
}

// foreignResets are the meta values a replica installing a duplication
// base writes over the source's: the fence and unfollow state and the
// replicated time belong to the source's own log and role.
func foreignResets() map[string][]byte {
	// The source's skip records name decrees of its log, not this one's.
	return map[string][]byte{string(fenceKey): make([]byte, 16), string(unfollowedKey): {0}, string(replicatedKey): u64(0),
		string(skipsKey): skipLog{}.encode()}
}
