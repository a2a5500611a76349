package duplication

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/replica"
)

type tpbStatus = tpb.DupPartitionStatus

// ackLog records when each write was acknowledged on the source.
type ackLog struct {
	mu   sync.Mutex
	keys []string
	at   []time.Time
}

func (l *ackLog) add(key string, at time.Time) {
	l.mu.Lock()
	l.keys, l.at = append(l.keys, key), append(l.at, at)
	l.mu.Unlock()
}

// before lists the keys acknowledged before t.
func (l *ackLog) before(t time.Time) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for i, at := range l.at {
		if at.Before(t) {
			out = append(out, l.keys[i])
		}
	}
	return out
}

// The replicated time is sound and advances: every write acknowledged on
// the source before a remote partition's replicated time is applied there
// (checked against a steady writer), an idle partition's replicated time
// moves on without writes, and the duplication's time is the minimum.
func TestReplicatedTimeIsSoundAndIdlePartitionsAdvance(t *testing.T) {
	d := mustNewDupPair(t, 2, clusterOptions{refresh: 20 * time.Millisecond}, clusterOptions{})
	write(t, d.srcReps[0], 0, 5)
	d.follow()
	d.dstReps = d.dst.mustOpenTable("t", 2)
	waitFor(t, "caught up", d.caughtUp)

	acks := &ackLog{}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // partition 0 takes a steady load; partition 1 stays idle
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			key := fmt.Sprintf("w%06d", i)
			m := []replica.Mutation{{Op: replica.OpPut, HashKey: []byte(key), SortKey: []byte("s"), Value: []byte("v")}}
			if _, err := d.srcReps[0].Write(context.Background(), m); err == nil {
				acks.add(key, time.Now())
			}
		}
	}()
	checked := 0
	waitFor(t, "20 checks of the replicated time under writes", func() bool {
		// The time first, then the data: data only grows, so every write
		// acknowledged before the time must already be there.
		rt := d.dstReps[0].ReplicatedTime()
		for _, key := range acks.before(rt) {
			if _, _, found, err := d.dstReps[0].Local().Get([]byte(key), []byte("s")); err != nil || !found {
				t.Fatalf("write %s acknowledged before the replicated time %s is not on the remote (%v)", key, rt.Format(time.RFC3339Nano), err)
			}
		}
		if len(acks.before(rt)) > 0 {
			checked++
		}
		time.Sleep(20 * time.Millisecond)
		return checked >= 20
	})
	close(stop)
	<-done

	mark := time.Now()
	info, _ := d.src.meta.Duplication(d.id)
	waitFor(t, "the duplication's replicated time past a moment with no writes after it", func() bool {
		sum := info.Proto()
		Summarize(sum, d.src.node.Status(context.Background(), info))
		return sum.ReplicatedTimeUnixMs >= mark.UnixMilli() && sum.ReplicatedAgeSeconds < 60
	})
	parts := d.src.node.Status(context.Background(), info)
	if parts[1].ReplicatedTimeUnixMs < mark.UnixMilli() {
		t.Fatalf("idle partition's replicated time %d is behind %d", parts[1].ReplicatedTimeUnixMs, mark.UnixMilli())
	}
	waitFor(t, "replicated-time gauges", func() bool {
		return series(d.src.node.met.replicated) == 2 && series(d.src.node.met.replicatedAge) == 2
	})
}

func TestSummarizeTakesTheOldestReplicatedTime(t *testing.T) {
	sum := Info{ID: "1", Table: "t", State: StateActive}.Proto()
	parts := []*tpbStatus{{Partition: 0, ReplicatedTimeUnixMs: 5000, ReplicatedAgeSeconds: 1}, {Partition: 1, ReplicatedTimeUnixMs: 3000, ReplicatedAgeSeconds: 3}}
	Summarize(sum, parts)
	if sum.ReplicatedTimeUnixMs != 3000 || sum.ReplicatedAgeSeconds != 3 {
		t.Fatalf("replicated %d age %v, want 3000 and 3", sum.ReplicatedTimeUnixMs, sum.ReplicatedAgeSeconds)
	}
	sum = Info{ID: "1", Table: "t", State: StateActive}.Proto()
	Summarize(sum, append(parts, &tpbStatus{Partition: 2}))
	if sum.ReplicatedTimeUnixMs != 0 || sum.ReplicatedAgeSeconds != 0 {
		t.Fatalf("a partition without a replicated time: got %d / %v, want unknown", sum.ReplicatedTimeUnixMs, sum.ReplicatedAgeSeconds)
	}
}
