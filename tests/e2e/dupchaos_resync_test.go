package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/duplication"
)

// faultFailoverResync is failback's fault in the duplication chaos run:
// the whole source frozen (SIGSTOP) or killed (kill -9) mid-load, dup
// promote on the remote, writes there, the source back and acknowledging
// writes the new primary never sees, dup resync on the source; then every
// write the source acknowledged is on the new primary or in the divergence
// file (none in both, none lost), dup show names the file, dup reapply
// writes it to the new primary, tandem-verify says identical, and a
// switchover makes the source the primary again for the rest of the run.
const faultFailoverResync dupFault = "failover-and-resync"

// dupChaosOnly restricts a chaos run to the faults named (comma list), to
// run one scenario alone: -dupchaos.only failover-and-resync.
var dupChaosOnly = flag.String("dupchaos.only", "", "comma list of the duplication chaos faults to inject (empty: all)")

// onlyFaults applies -dupchaos.only to the run's faults.
func onlyFaults(faults []dupFault) []dupFault {
	if *dupChaosOnly == "" {
		return faults
	}
	want := strings.Split(*dupChaosOnly, ",")
	return slices.DeleteFunc(faults, func(f dupFault) bool { return !slices.Contains(want, string(f)) })
}

// resyncRetainBytes is the source's dup.log_retain_bytes during the
// failover: the run's 16 KiB cap would let the divergent log go (the
// resync is then refused, leaving everything as it was: a different test).
const resyncRetainBytes = 256 << 20

// failoverAndResync injects faultFailoverResync and returns the
// duplication id after it (the source's again).
func (r *chaosRun) failoverAndResync(id string, w *writer, src, dst *Cluster, rng *rand.Rand) string {
	r.setStep("failover: waiting for every partition in LOG")
	waitLog(r.t, src, "t", id, 4)
	_, err := src.Shell("config set dup.log_retain_bytes " + strconv.Itoa(resyncRetainBytes))
	r.require("raise the source's retention cap for the failover", err)
	r.waitAcked(w, w.count()+100+rng.Intn(300))
	kill := rng.Intn(2) == 0
	r.setStep("failover: source %s mid-load, dup promote on the remote", map[bool]string{true: "killed", false: "frozen"}[kill])
	for _, nd := range src.Nodes {
		if kill {
			nd.Kill()
		} else {
			nd.Pause()
		}
	}
	out, err := dst.Shell("dup promote t")
	r.require("dup promote with the source lost", err)
	r.t.Logf("dup promote:\n%s", out)
	promoted := r.writeOnPrimary(w, dst, "promoted-"+id, 50+rng.Intn(200))
	for _, nd := range src.Nodes {
		if kill {
			nd.Start()
		} else {
			nd.Resume()
		}
	}
	if kill {
		for _, nd := range src.Nodes {
			nd.WaitHealthy(stallPatience)
		}
	}
	r.setStep("failover: the old source back, acknowledging writes the new primary never sees")
	r.waitAcked(w, w.count()+100+rng.Intn(400))
	r.setStep("dup resync on the old source")
	out, err = resync(r.t, src, id)
	r.require("dup resync", err)
	w.mu.Lock()
	acked := maps.Clone(w.acked) // the fence stops the source's acknowledgements
	w.mu.Unlock()
	path, newID := strings.Fields(out)[2], strings.Fields(strings.Split(out, "\n")[1])[8]
	tw := openTable(r.t, dial(r.t, dst.Addrs()), "t")
	div := readDivergence(r.t, path)
	onNew, inFile, err := accountDivergence(tw, acked, div)
	r.require("every acknowledged write on the new primary or in the divergence file, none in both, none lost", err)
	muts := 0
	for _, e := range div {
		muts += len(e.Mutations)
	}
	r.require("dup show on the new primary names the divergence file", divergenceShown(dst, newID, path, muts))
	r.setStep("dup reapply on the new primary")
	out, err = dst.Shell("dup reapply t " + path)
	r.require("dup reapply", err)
	if want := fmt.Sprintf("re-applied %d of %d write", muts, muts); !strings.HasPrefix(out, want) {
		r.require("dup reapply applied every write", fmt.Errorf("%q, want %q", out, want))
	}
	r.setStep("resync: waiting for the old source identical to the new primary")
	waitLog(r.t, dst, "t", newID, 4)
	verify := r.waitIdentical("t")
	_, err = src.Shell("config set dup.log_retain_bytes " + strconv.Itoa(dupChaosRetainBytes))
	r.require("restore the source's retention cap", err)
	r.setStep("resync: switchover back to the old source")
	back, err := switchoverE(r.t, dst, "t", newID)
	r.require("dup switchover back after the resync", err)
	r.note("failover (source %s) and resync: %d acknowledged: %d on the new primary, %d in the divergence file (%d entries, %d writes re-applied), %d written on the new primary; %s; back as dup %s",
		map[bool]string{true: "killed", false: "frozen"}[kill], len(acked), onNew, inFile, len(div), muts, promoted, lastLine(verify), back)
	r.t.Logf("DUPCHAOS-RESYNC seed=%d source_%s acked=%d on_new_primary=%d in_divergence_file=%d entries=%d reapplied=%d new_primary_writes=%d verify=%q",
		r.seed, map[bool]string{true: "killed", false: "frozen"}[kill], len(acked), onNew, inFile, len(div), muts, promoted, lastLine(verify))
	return back
}

// writeOnPrimary writes n records to cl's table t, recording the
// acknowledged ones with w's (the final check reads them on the remote).
func (r *chaosRun) writeOnPrimary(w *writer, cl *Cluster, hk string, n int) int {
	tw := openTable(r.t, dial(r.t, cl.Addrs()), "t")
	ok := 0
	for i := 0; i < n; i++ {
		sk := fmt.Sprintf("%05d", i)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := tw.Set(ctx, []byte(hk), []byte(sk), []byte("v"))
		cancel()
		if err == nil {
			ok++
			w.mu.Lock()
			w.acked[hk+"\x00"+sk] = "v"
			w.mu.Unlock()
		}
	}
	return ok
}

// accountDivergence checks (TestResyncAfterFailover, the chaos run) that every
// acknowledged write is on the new primary (tw) or in the divergence file
// with its value, never both, and that nothing in the file is on the new
// primary; it returns how many are where.
func accountDivergence(tw *client.Table, acked map[string]string, div []duplication.DivergentEntry) (onNew, inFile int, err error) {
	file := map[string]string{}
	for _, e := range div {
		for _, m := range e.Mutations {
			if m.Op == "set" {
				file[m.HashKey+"\x00"+m.SortKey] = m.Value
			}
		}
	}
	var bad []string
	for k, v := range file {
		hk, sk, _ := strings.Cut(k, "\x00")
		got, gerr := getPatiently(tw, []byte(hk), []byte(sk))
		if gerr != nil && !errors.Is(gerr, client.ErrNotFound) {
			return 0, 0, gerr
		}
		if gerr == nil && string(got) == v {
			bad = append(bad, fmt.Sprintf("%s/%s=%s both on the new primary and in the file", hk, sk, v))
		}
	}
	for k, v := range acked {
		hk, sk, _ := strings.Cut(k, "\x00")
		got, gerr := getPatiently(tw, []byte(hk), []byte(sk))
		if gerr != nil && !errors.Is(gerr, client.ErrNotFound) {
			return 0, 0, gerr
		}
		switch fv, ok := file[k]; {
		case gerr == nil && string(got) == v:
			onNew++
		case ok && fv == v:
			inFile++
		default:
			bad = append(bad, fmt.Sprintf("%s/%s=%s lost: not on the new primary (%q), not in the file", hk, sk, v, got))
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return onNew, inFile, fmt.Errorf("%d writes not accounted for exactly, e.g. %v", len(bad), bad[:min(len(bad), 10)])
	}
	return onNew, inFile, nil
}

// divergenceShown checks that dup show (JSON) of duplication id on cl
// names the divergence file at path holding muts writes.
func divergenceShown(cl *Cluster, id, path string, muts int) error {
	out, err := cl.Shell("dup show t "+id, "--json")
	if err != nil {
		return err
	}
	var doc struct {
		Duplication struct {
			Divergence struct {
				File      string `json:"file"`
				Mutations int    `json:"mutations"`
			} `json:"divergence"`
		} `json:"duplication"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		return fmt.Errorf("dup show --json: %w: %s", err, out)
	}
	if dv := doc.Duplication.Divergence; dv.File != path || dv.Mutations != muts {
		return fmt.Errorf("dup show names divergence %+v, want %s with %d writes", dv, path, muts)
	}
	return nil
}
