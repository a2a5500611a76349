package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// dup show of the duplication a follower table follows names its source.
func TestDupShowOfTheIncomingDuplicationSaysFrom(t *testing.T) {
	var out bytes.Buffer
	res := dupShowResult{&tandempb.ShowDuplicationResponse{Duplication: &tandempb.DuplicationInfo{Id: "17", Table: "demo",
		RemoteAddr: "a:1", RemoteCluster: "east", State: "following", RemoteNote: "incoming: table demo follows duplication 17"}}}
	if err := (&printer{out: &out}).print(res); err != nil {
		t.Fatal(err)
	}
	if first := strings.SplitN(out.String(), "\n", 2)[0]; !strings.HasPrefix(first, "duplication 17: table demo from cluster east at a:1, state following") {
		t.Fatalf("dup show header %q", first)
	}
}
