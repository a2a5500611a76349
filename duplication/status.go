package duplication

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// `dup show` is assembled on the source cluster without asking the remote:
// every call of a puller carries a FollowerReport, the source leader of
// each partition keeps the latest, and the node answering asks every node
// of its cluster for the partitions they lead.

// statusTimeout bounds how long `dup show` waits for one node.
const statusTimeout = 2 * time.Second

// partitionStatus reports partition p of a duplication, which this node
// leads through r.
func (s *Source) partitionStatus(info Info, p uint32, r SourceReplica) *tpb.DupPartitionStatus {
	st := &tpb.DupPartitionStatus{Partition: p, SourceDecree: r.Applied(), RetainedLogBytes: r.RetainedLogBytes()}
	setPartitionState(st, PartitionInit)
	st.SourceLeader, _ = r.Leader()
	st.ConfirmedDecree = r.Confirmed()[info.ID]
	s.addProgress(st, info.ID)
	now := s.cfg.Now()
	if info.Paused() {
		setPartitionState(st, PartitionPaused)
	} else if silent := now.Sub(time.UnixMilli(st.LastContactUnixMs)); st.LastContactUnixMs > 0 && silent > staleContact && st.LastError == "" {
		// A remote that stopped pulling (down, its follower table gone)
		// must not look healthy just because its last report did.
		st.LastError = fmt.Sprintf("no pull from the remote for %s", silent.Round(time.Second))
	}
	if st.ReplicatedTimeUnixMs > 0 {
		st.ReplicatedAgeSeconds = max(0, now.Sub(time.UnixMilli(st.ReplicatedTimeUnixMs)).Seconds())
	}
	if st.ConfirmedDecree < st.SourceDecree {
		st.LagDecrees = st.SourceDecree - st.ConfirmedDecree
		if t, ok := r.EntryTime(st.ConfirmedDecree + 1); ok {
			st.LagSeconds = now.Sub(t).Seconds()
		}
	}
	return st
}

// addProgress fills st with what this node knows of the remote partition:
// its pulls and its last report.
func (s *Source) addProgress(st *tpb.DupPartitionStatus, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr := s.progress[progressKey{id, st.Partition}]
	if pr == nil {
		return
	}
	st.ConfirmedDecree = max(st.ConfirmedDecree, pr.confirmed)
	st.BaseDecree, st.BaseCheckpoint, st.ShippedEntries = pr.baseDecree, pr.baseID, pr.shipped
	st.LastContactUnixMs = pr.lastContact.UnixMilli()
	if rep := pr.report; rep != nil {
		setPartitionState(st, partitionStateOf(rep))
		st.Rebootstraps, st.LastError = rep.Rebootstraps, rep.LastError
		st.BaseBytesDone, st.BaseBytesTotal = rep.BaseBytesDone, rep.BaseBytesTotal
		st.ReplicatedTimeUnixMs = rep.ReplicatedTimeUnixMs
		if rep.BaseCheckpoint != "" { // the remote knows its base even after a source leader change
			st.BaseDecree, st.BaseCheckpoint = rep.BaseDecree, rep.BaseCheckpoint
		}
	}
}

// LocalStatus reports the partitions of duplication id this node leads.
func (n *Node) LocalStatus(id string) []*tpb.DupPartitionStatus {
	info, ok := n.cfg.Meta.Duplication(id)
	if !ok {
		return nil
	}
	var out []*tpb.DupPartitionStatus
	for _, r := range n.cfg.Replicas.All() {
		ri := r.Info()
		if ri.Table != info.Table || !r.IsLeader() {
			continue
		}
		out = append(out, n.source.partitionStatus(info, ri.Partition, r))
	}
	return out
}

// Status gathers every partition's status of a duplication from the
// source leaders: this node's own, and the other nodes' LocalDupStatus.
// A partition no leader reported is UNKNOWN.
func (n *Node) Status(ctx context.Context, info Info) []*tpb.DupPartitionStatus {
	if info.Partitions == 0 {
		return nil
	}
	byPart := map[uint32]*tpb.DupPartitionStatus{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range n.peers() {
		wg.Add(1)
		go func(p Peer) {
			defer wg.Done()
			parts := n.peerStatus(ctx, p, info)
			mu.Lock()
			defer mu.Unlock()
			for _, s := range parts {
				byPart[s.Partition] = s
			}
		}(p)
	}
	wg.Wait()
	out := make([]*tpb.DupPartitionStatus, info.Partitions)
	for i := range out {
		if s, ok := byPart[uint32(i)]; ok {
			out[i] = s
			continue
		}
		out[i] = &tpb.DupPartitionStatus{Partition: uint32(i), LastError: "no source leader answered"}
		setPartitionState(out[i], PartitionUnknown)
	}
	return out
}

// peerStatus asks node p for the partitions of the duplication it leads;
// nil when it does not answer in time.
func (n *Node) peerStatus(ctx context.Context, p Peer, info Info) []*tpb.DupPartitionStatus {
	if p.ID == n.cfg.NodeID {
		return n.LocalStatus(info.ID)
	}
	conn, err := n.cfg.Dial(p.Addr)
	if err != nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	resp, err := tpb.NewAdminClient(conn).LocalDupStatus(cctx, &tpb.LocalDupStatusRequest{Table: info.Table, DupId: info.ID})
	if err != nil {
		return nil
	}
	return resp.Partitions
}

// Summarize fills a duplication's progress line ("LOG:7 APP:1"), its
// worst lag and its replicated time (the minimum over the partitions, 0
// while one is unknown) from its partitions.
func Summarize(info *tpb.DuplicationInfo, parts []*tpb.DupPartitionStatus) {
	counts := map[string]int{}
	for i, p := range parts {
		counts[p.State]++
		info.MaxLagDecrees = max(info.MaxLagDecrees, p.LagDecrees)
		info.MaxLagSeconds = max(info.MaxLagSeconds, p.LagSeconds)
		if i == 0 || p.ReplicatedTimeUnixMs < info.ReplicatedTimeUnixMs {
			info.ReplicatedTimeUnixMs = p.ReplicatedTimeUnixMs
		}
		info.ReplicatedAgeSeconds = max(info.ReplicatedAgeSeconds, p.ReplicatedAgeSeconds)
	}
	if info.ReplicatedTimeUnixMs == 0 {
		info.ReplicatedAgeSeconds = 0
	}
	states := make([]string, 0, len(counts))
	for s := range counts {
		states = append(states, s)
	}
	sort.Strings(states)
	var b strings.Builder
	for i, s := range states {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s:%d", s, counts[s])
	}
	info.Progress = b.String()
}

// observe refreshes the lag gauges of the partitions this node leads.
func (n *Node) observe() {
	n.met.ResetGauges()
	n.reboots.g.Reset()
	for _, d := range n.cfg.Meta.Duplications() {
		for _, st := range n.LocalStatus(d.ID) {
			n.met.Observe(d.ID, d.Table, st)
			n.reboots.set(d.ID, d.Table, st)
		}
	}
}
