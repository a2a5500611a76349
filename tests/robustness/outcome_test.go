package robustness

import (
	"context"
	"fmt"
	"testing"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/tests/robustness/lincheck"
)

// Only what the SDK reports as ambiguous is checked as maybe applied; the
// harness used to record every failed write so, refusals included.
func TestOutcomeOfFollowsTheSDK(t *testing.T) {
	set := lincheck.Input{Kind: lincheck.OpSet, HashKey: "h", SortKeys: []string{"s"}, Values: []string{"v"}}
	get := lincheck.Input{Kind: lincheck.OpGet, HashKey: "h", SortKeys: []string{"s"}}
	cases := []struct {
		in   lincheck.Input
		err  error
		want lincheck.Outcome
	}{
		{set, nil, lincheck.Acked},
		{set, fmt.Errorf("%w: leadership lost", client.ErrAmbiguous), lincheck.Ambiguous},
		{set, fmt.Errorf("%w: %w: not leader", client.ErrUnavailable, context.DeadlineExceeded), lincheck.Refused},
		{set, fmt.Errorf("%w: %w", client.ErrAmbiguous, client.ErrUnavailable), lincheck.Ambiguous},
		{get, fmt.Errorf("%w: no leader", client.ErrUnavailable), lincheck.FailedRead},
		{get, nil, lincheck.Acked},
	}
	for _, c := range cases {
		if got := outcomeOf(c.in, c.err); got != c.want {
			t.Errorf("outcomeOf(%s, %v) = %s, want %s", c.in.Kind, c.err, got, c.want)
		}
	}
}
