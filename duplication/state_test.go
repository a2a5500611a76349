package duplication

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// The Go constants and the wire enums name the same states, and every
// state the wire knows has a constant.
func TestStatesMatchTheWireEnums(t *testing.T) {
	for s, e := range stateEnums {
		if want := "DUPLICATION_STATE_" + strings.ToUpper(string(s)); e.String() != want {
			t.Errorf("%q maps to %s, want %s", s, e, want)
		}
	}
	if len(stateEnums) != len(tpb.DuplicationState_name)-1 {
		t.Errorf("%d duplication states, the wire has %d besides UNSPECIFIED", len(stateEnums), len(tpb.DuplicationState_name)-1)
	}
	for s, e := range partitionEnums {
		if want := "DUP_PARTITION_STATE_" + string(s); e.String() != want {
			t.Errorf("%q maps to %s, want %s", s, e, want)
		}
	}
	if len(partitionEnums) != len(tpb.DupPartitionState_name)-1 {
		t.Errorf("%d partition states, the wire has %d besides UNSPECIFIED", len(partitionEnums), len(tpb.DupPartitionState_name)-1)
	}
	if State("bogus").Proto() != tpb.DuplicationState_DUPLICATION_STATE_UNSPECIFIED {
		t.Error("an unknown state is not UNSPECIFIED on the wire")
	}
}

// A source reads the enum a remote sends, and the string an older remote
// sends.
func TestReportStateFromNewAndOldRemotes(t *testing.T) {
	for _, tt := range []struct {
		name string
		rep  *tpb.FollowerReport
		want PartitionState
	}{
		{"enum wins", &tpb.FollowerReport{State: "LOG", StateCode: PartitionApp.Proto()}, PartitionApp},
		{"older remote", &tpb.FollowerReport{State: "PREPARE"}, PartitionPrepare},
	} {
		if got := partitionStateOf(tt.rep); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestPinOwnerRoundTrip(t *testing.T) {
	if id, ok := PinnedDuplication(PinOwner("17")); !ok || id != "17" {
		t.Fatalf("PinnedDuplication(PinOwner(17)) = %q, %v", id, ok)
	}
	if _, ok := PinnedDuplication("recovery"); ok {
		t.Fatal("a pin that is not a duplication's parsed as one")
	}
}

// A puller follows a refusal that names the source leader at once, a few
// times in a row at most, and forgets the leader after any other failure.
func TestSourceLeaderFollowsNotLeaderHints(t *testing.T) {
	hint := func(addr string) error {
		st, err := status.New(codes.Unavailable, "not leader").WithDetails(&tpb.NotLeader{Table: "t", LeaderAddr: addr})
		if err != nil {
			t.Fatal(err)
		}
		return describe(st.Err()) // as the puller wraps it
	}
	l := &sourceLeader{addr: "a:1"}
	if !l.follow(hint("b:1")) || l.current() != "b:1" {
		t.Fatalf("hint not followed: leader %q", l.current())
	}
	if l.follow(hint("b:1")) || l.current() != "" {
		t.Fatalf("a hint naming the node that refused was followed: leader %q", l.current())
	}
	l.addr = "a:1"
	for i := 0; i < maxImmediateRedirects; i++ {
		if !l.follow(hint("x:" + string(rune('1'+i)))) {
			t.Fatalf("redirect %d not followed", i+1)
		}
	}
	if l.follow(hint("y:1")) || l.current() != "" {
		t.Fatal("redirects without a pause are not bounded")
	}
	l.addr = "a:1"
	l.follow(hint("b:1"))
	l.ok()
	if !l.follow(hint("c:1")) {
		t.Fatal("an answered call did not reset the redirect count")
	}
	if l.follow(status.Error(codes.Unavailable, "connection refused")) || l.current() != "" {
		t.Fatal("an unreachable leader was not forgotten")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err == nil {
		t.Fatal("a config without node, replicas and metadata validated")
	}
}
