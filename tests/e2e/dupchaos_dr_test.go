package e2e

import (
	"context"
	"fmt"
	"math/rand"
	"time"

	"github.com/tandem-kv/tandem/client"
)

// faultSwitchover is disaster recovery's fault in the duplication chaos
// run: dup switchover to the remote under the load, writes to the new
// primary, and dup switchover back with kill -9 of a source leader (the
// side catching up and taking the primary back) meanwhile.
const faultSwitchover dupFault = "switchover-and-back"

// switchoverAndBack injects faultSwitchover and returns the duplication id
// after it (the source's again).
func (r *chaosRun) switchoverAndBack(id string, w *writer, src, dst *Cluster, c *client.Client, rng *rand.Rand) string {
	r.setStep("switchover: waiting for every partition in LOG")
	waitLog(r.t, src, "t", id, 4) // a switchover is refused while a base loads
	rev, err := switchoverE(r.t, src, "t", id)
	r.require("dup switchover to the remote", err)
	// The writers' writes to the source are refused now (switched over);
	// the new primary takes these, recorded as acknowledged.
	tw := openTable(r.t, dial(r.t, dst.Addrs()), "t")
	n := 50 + rng.Intn(200)
	for i := 0; i < n; i++ {
		hk, sk := "switched", fmt.Sprintf("%s-%05d", rev, i)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := tw.Set(ctx, []byte(hk), []byte(sk), []byte("v"))
		cancel()
		if err == nil {
			w.mu.Lock()
			w.acked[hk+"\x00"+sk] = "v"
			w.mu.Unlock()
		}
	}
	waitLog(r.t, dst, "t", rev, 4)
	victim := r.leaderNode(src, c, rng.Intn(4))
	done := make(chan error, 1)
	var back string
	go func() {
		var err error
		back, err = switchoverE(r.t, dst, "t", rev)
		done <- err
	}()
	victim.Kill()
	r.require("dup switchover back with a source leader killed", <-done)
	victim.Start()
	victim.WaitHealthy(stallPatience)
	r.note("switched over to the remote (dup %s), %d writes there, back as dup %s (killed %s meanwhile)", rev, n, back, victim.ID)
	return back
}
