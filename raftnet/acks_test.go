package raftnet

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestHeartbeatAcksLeaseStart(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var a heartbeatAcks
	a.record("n2", 5, at(10))
	a.record("n3", 5, at(30))
	a.record("n2", 5, at(5))  // older than what n2 already accepted
	a.record("n4", 4, at(99)) // an older term
	ids := []raft.ServerID{"n2", "n3", "n4", "n5"}
	cases := []struct {
		name string
		term uint64
		need int
		want time.Time
		ok   bool
	}{
		{"one follower needed: the newest", 5, 1, at(30), true},
		{"two needed: the second newest", 5, 2, at(10), true},
		{"more needed than accepted", 5, 3, time.Time{}, false},
		{"another term", 6, 1, time.Time{}, false},
	}
	for _, c := range cases {
		got, ok := a.since(c.term, ids, c.need)
		if ok != c.ok || !got.Equal(c.want) {
			t.Errorf("%s: %v %v, want %v %v", c.name, got, ok, c.want, c.ok)
		}
	}
	if _, ok := a.since(5, nil, 0); !ok {
		t.Error("a group of one voter needs no follower")
	}
	a.record("n2", 6, at(50)) // a new term forgets the old one's acks
	if _, ok := a.since(6, ids, 2); ok {
		t.Error("acks of term 5 counted in term 6")
	}
	if got, ok := a.since(6, ids, 1); !ok || !got.Equal(at(50)) {
		t.Errorf("term 6: %v %v", got, ok)
	}
}
