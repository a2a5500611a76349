package replica

import "testing"

// The survivors of a dead leader agree on who campaigns first, and the
// first differs from group to group (one node does not take every group).
func TestSuccessionRanksAreAgreedAndSpread(t *testing.T) {
	voters := []string{"n1", "n2", "n3"}
	first := map[string]int{}
	for g := uint64(1); g <= 64; g++ {
		for _, gone := range voters {
			ranks := map[int]string{}
			for _, id := range voters {
				if id == gone {
					continue
				}
				r := successionRank(id, gone, g, voters)
				if prev, dup := ranks[r]; dup {
					t.Fatalf("group %d without %s: %s and %s share rank %d", g, gone, prev, id, r)
				}
				ranks[r] = id
			}
			if _, ok := ranks[0]; !ok || len(ranks) != 2 {
				t.Fatalf("group %d without %s: ranks %v, want 0 and 1", g, gone, ranks)
			}
			first[ranks[0]]++
		}
	}
	for _, id := range voters {
		if first[id] < 20 {
			t.Errorf("%s campaigns first in %d of 192 cases: the order is not spread (%v)", id, first[id], first)
		}
	}
}
