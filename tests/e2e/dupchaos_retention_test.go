package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-kv/tandem/client"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// The remote-down-past-retention fault checks, for that fault alone, what
// it is about: a remote that had a base, was down while the source
// compacted its log past the remote's decree on every replica, must be told
// the log is gone and re-bootstrap from a new base, on every such
// partition. Both conditions are established before the remote comes back
// instead of being assumed from a count of writes: a remote killed before
// it loaded its first base has nothing to fall behind from (it takes its
// first base when it is back, without any "log gone"), and raft compacts
// only when it snapshots (every checkpoint.interval), so a number of writes
// says nothing about whether the log was compacted yet. The cap is lowered
// only while the remote is down: at the run's cap a base can load under
// load (see dupChaosRetainBytes).

// remoteDownPastRetention injects faultRemoteDownLong and checks that the
// remote re-bootstraps every partition the source compacted past it.
func (r *chaosRun) remoteDownPastRetention(id string, w *writer, src, dst *Cluster, c *client.Client) {
	r.setStep("remote down: waiting for every partition in LOG")
	waitLog(r.t, src, "t", id, 4) // the remote has a base and a floor on the source
	for _, nd := range dst.Nodes {
		nd.Kill()
	}
	// Dead, the remote got no further than what the source applied.
	reached := r.sourceApplied(c)
	r.setRetainBytes(src, dupChaosDownRetainBytes)
	// A write is ~50 bytes of log: this many is more than the lowered cap
	// on each of the 4 partitions.
	r.waitAcked(w, w.count()+3000)
	r.setStep("remote down: waiting for the source to compact its log past the remote (applied %v) on every replica", reached)
	gone := r.waitCompactedPast(src, c, reached)
	r.note("remote down: the source's log starts after %v (the remote got at most to %v)", gone, reached)
	// The new base must load under load: the run's cap again.
	r.setRetainBytes(src, dupChaosRetainBytes)
	from := logSizes(r, src)
	for _, nd := range dst.Nodes {
		nd.Start()
	}
	for _, nd := range dst.Nodes {
		nd.WaitHealthy(stallPatience)
	}
	r.setStep("remote back: waiting for every partition to confirm past the compacted log %v", gone)
	r.waitConfirmedPast(c, id, gone)
	r.require("the remote re-bootstraps after being down past retention", rebootstrapped(r, src, from, id, len(gone)))
}

// dupChaosDownRetainBytes is the source's dup.log_retain_bytes while the
// remote is down: small, so a few thousand writes are past it.
const dupChaosDownRetainBytes = 16 << 10

// setRetainBytes sets the source's dup.log_retain_bytes.
func (r *chaosRun) setRetainBytes(src *Cluster, n int) {
	r.t.Helper()
	_, err := src.Shell("config set dup.log_retain_bytes " + strconv.Itoa(n))
	r.require("set the source's retention cap", err)
}

// sourceApplied returns, per partition of t, the highest decree any of its
// replicas applied, asking until every replica answers.
func (r *chaosRun) sourceApplied(c *client.Client) []uint64 {
	r.t.Helper()
	since := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := c.Partitions(ctx, "t")
		cancel()
		if err == nil && allReplicasAnswer(resp.Partitions, int(resp.Table.Replicas)) {
			out := make([]uint64, len(resp.Partitions))
			for i, p := range resp.Partitions {
				for _, rs := range p.Replicas {
					out[i] = max(out[i], rs.AppliedDecree)
				}
			}
			return out
		}
		if time.Since(since) > stallPatience {
			r.require("source partitions answer", fmt.Errorf("not every replica of t answered for %s: %v", stallPatience, err))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitCompactedPast waits until, on every replica of every partition p,
// the log starts after reached[p]+1 (a pull from there is answered "log
// gone" whichever replica leads), and returns per partition a decree the
// log starts after everywhere. It fails when the source keeps the log
// the remote needs for stallPatience: the retention cap is not enforced.
func (r *chaosRun) waitCompactedPast(src *Cluster, c *client.Client, reached []uint64) []uint64 {
	r.t.Helper()
	gone := make([]uint64, len(reached))
	done, since := 0, time.Now()
	for {
		starts, detail := r.logStarts(src, c)
		n := 0
		for p := range reached {
			if p < len(starts) && starts[p] > reached[p]+1 {
				gone[p] = max(gone[p], starts[p]-1)
			}
			if gone[p] > 0 {
				n++
			}
		}
		if n == len(reached) {
			return gone
		}
		if n > done {
			done, since = n, time.Now()
		} else if time.Since(since) > stallPatience {
			r.require("the source compacts its log past the retention cap",
				fmt.Errorf("for %s the log of some partition still held the remote's decrees %v (cap %d bytes); replicas: %s", stallPatience, reached, dupChaosDownRetainBytes, detail))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// logEntriesLine is a replica's tandem_raft_log_entries of table t.
var logEntriesLine = regexp.MustCompile(`^tandem_raft_log_entries\{partition="(\d+)",table="t"\} (\S+)$`)

// logStarts returns per partition of t a lower bound of the first log index
// over its replicas (0 when not every replica answered), and the figures.
// A replica's applied decree is read before its log's entry count, so its
// last index is at least the applied decree when the entries are counted:
// the log starts at or after applied-entries+1.
func (r *chaosRun) logStarts(src *Cluster, c *client.Client) ([]uint64, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	resp, err := c.Partitions(ctx, "t")
	cancel()
	if err != nil || !allReplicasAnswer(resp.Partitions, int(resp.Table.Replicas)) {
		return nil, fmt.Sprintf("partitions: %v", err)
	}
	entries := map[string]map[int]uint64{} // node -> partition -> entries
	for _, nd := range src.Nodes {
		entries[nd.ID] = scrapeLogEntries(nd)
	}
	starts := make([]uint64, len(resp.Partitions))
	var detail []string
	for i, p := range resp.Partitions {
		for j, rs := range p.Replicas {
			e, ok := entries[rs.NodeId][i]
			start := uint64(0)
			if ok && rs.AppliedDecree >= e {
				start = rs.AppliedDecree - e + 1
			}
			if j == 0 || start < starts[i] {
				starts[i] = start
			}
			detail = append(detail, fmt.Sprintf("p%d@%s applied %d entries %d", i, rs.NodeId, rs.AppliedDecree, e))
		}
	}
	return starts, strings.Join(detail, ", ")
}

// allReplicasAnswer reports whether every partition lists want replicas.
func allReplicasAnswer(parts []*tpb.PartitionInfo, want int) bool {
	for _, p := range parts {
		if len(p.Replicas) < want {
			return false
		}
	}
	return len(parts) > 0
}

// scrapeLogEntries reads nd's tandem_raft_log_entries per partition of t.
func scrapeLogEntries(nd *Node) map[int]uint64 {
	out := map[int]uint64{}
	code, body := nd.httpGet("/metrics")
	if code != 200 {
		return out
	}
	for _, line := range strings.Split(body, "\n") {
		m := logEntriesLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		p, _ := strconv.Atoi(m[1])
		v, err := strconv.ParseFloat(m[2], 64)
		if err == nil {
			out[p] = uint64(v)
		}
	}
	return out
}

// waitConfirmedPast waits until every partition of duplication id is in
// LOG with a confirmed decree past gone[p]: past the compacted log, which
// only a new base gets the remote over. It fails when the duplication
// stops moving for stallPatience.
func (r *chaosRun) waitConfirmedPast(c *client.Client, id string, gone []uint64) {
	r.t.Helper()
	var prev string
	since := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := c.ShowDuplication(ctx, "t", id)
		cancel()
		// Progress is the remote moving through the log or a base, not
		// its state or re-bootstrap count (a remote told "log gone" over
		// and over changes those without getting anywhere).
		var state, moved []string
		ok := err == nil && len(resp.Partitions) == len(gone)
		if err == nil {
			for _, p := range resp.Partitions {
				state = append(state, fmt.Sprintf("p%d %s confirmed %d base %d rebootstraps %d %s", p.Partition, p.State, p.ConfirmedDecree, p.BaseDecree, p.Rebootstraps, p.LastError))
				moved = append(moved, fmt.Sprint(p.ConfirmedDecree, p.BaseDecree, p.BaseBytesDone))
				ok = ok && p.State == "LOG" && int(p.Partition) < len(gone) && p.ConfirmedDecree > gone[p.Partition]
			}
		}
		if ok {
			return
		}
		if m := fmt.Sprint(moved); m != prev {
			prev, since = m, time.Now()
		} else if time.Since(since) > stallPatience {
			r.require("the remote catches up after being down past retention",
				fmt.Errorf("no progress for %s past the compacted log %v: %s", stallPatience, gone, strings.Join(state, "; ")))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// logSizes returns the current size of each of cl's node logs.
func logSizes(r *chaosRun, cl *Cluster) map[string]int64 {
	out := map[string]int64{}
	for _, nd := range cl.Nodes {
		st, err := os.Stat(nd.LogPath())
		if err != nil {
			r.t.Fatal(err)
		}
		out[nd.ID] = st.Size()
	}
	return out
}

// rebootstrapped checks in the source's logs, after the offsets from, that
// each of the partitions of duplication id was answered "log gone" and
// given a new base.
func rebootstrapped(r *chaosRun, src *Cluster, from map[string]int64, id string, partitions int) error {
	gone, based := map[int]bool{}, map[int]bool{}
	for _, nd := range src.Nodes {
		b, err := os.ReadFile(nd.LogPath())
		if err != nil {
			return err
		}
		if off := from[nd.ID]; off <= int64(len(b)) {
			b = b[off:]
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l struct {
				Msg       string `json:"msg"`
				Dup       string `json:"dup"`
				Partition *int   `json:"partition"`
			}
			if json.Unmarshal(sc.Bytes(), &l) != nil || l.Dup != id || l.Partition == nil {
				continue
			}
			switch l.Msg {
			case "duplication needs log that is gone":
				gone[*l.Partition] = true
			case "duplication base prepared":
				based[*l.Partition] = true
			}
		}
	}
	var missing []string
	for p := 0; p < partitions; p++ {
		if !gone[p] || !based[p] {
			missing = append(missing, fmt.Sprintf("partition %d (log gone answered: %v, new base prepared: %v)", p, gone[p], based[p]))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		return fmt.Errorf("the source compacted its log past the remote's decree on every replica, but after the remote came back: %s", strings.Join(missing, "; "))
	}
	return nil
}
