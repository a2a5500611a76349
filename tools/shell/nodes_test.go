package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

func TestMembershipResultsFormat(t *testing.T) {
	now := time.Unix(1_900_000_000, 0)
	cases := []struct {
		name      string
		r         result
		human, js string
	}{
		{"rebalance", rebalanceResult{&tandempb.RebalanceResponse{UnderReplicated: 2, Moves: []*tandempb.ReplicaMove{
			{Table: "t", Partition: 3, FromNode: "n2", ToNode: "n4", Phase: "adding", Reason: "dead", StartedUnixMs: now.Add(-2 * time.Second).UnixMilli()},
		}}, now},
			"TABLE  PARTITION  FROM  TO  PHASE   REASON  AGE\nt      3          n2    n4  adding  dead    2s ago\n(1 move in progress, 2 partitions short of replicas)\n",
			`{"moves":[{"from":"n2","partition":3,"phase":"adding","reason":"dead","started_unix_ms":` + "1899999998000" + `,"table":"t","to":"n4"}],"under_replicated":2}`},
		{"rebalance idle", rebalanceResult{&tandempb.RebalanceResponse{}, now},
			"TABLE  PARTITION  FROM  TO  PHASE  REASON  AGE\n(0 moves in progress, 0 partitions short of replicas)\n",
			`{"moves":[],"under_replicated":0}`},
		{"drain", nodeOpResult{"draining", &tandempb.NodeInfo{Id: "n2", State: "draining", Replicas: 12, Moving: 2}},
			"node n2 draining: state draining, 12 replicas placed, 2 moving\n",
			`{"id":"n2","moving":2,"replicas":12,"state":"draining"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.r.human(&b); err != nil || b.String() != tc.human {
				t.Fatalf("human:\n%q\nwant\n%q (%v)", b.String(), tc.human, err)
			}
			js, err := json.Marshal(tc.r.json())
			if err != nil || string(js) != tc.js {
				t.Fatalf("json:\n%s\nwant\n%s (%v)", js, tc.js, err)
			}
		})
	}
}
