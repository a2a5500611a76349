package replica

import "context"

// Failback (dup resync) on the old source of a failed-over duplication:
// its log after the new primary's source decree is read out (ReadLog),
// decoded for the divergence file, then the partition follows the new
// primary from a base.

// FollowAnew makes the partition forget its source decree (and replicated
// time), so its next puller loads a base from its new source: its data
// diverged from the new primary's, so no log position of either matches.
func (r *Replica) FollowAnew(ctx context.Context) error {
	_, err := r.proposeStep(ctx, stepFollow, 0)
	return err
}

// DecodeMutations decodes a shipped command (ReadLog's WalEntry.Command)
// into its mutations, in order.
func DecodeMutations(cmd []byte) ([]Mutation, error) { return decodeCommand(cmd) }
