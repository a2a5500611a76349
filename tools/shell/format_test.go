package main

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/proto/tandempb"
)

func TestFormat(t *testing.T) {
	expire := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name  string
		res   result
		human string
		json  string
	}{
		{"ok", messageResult{text: "OK"}, "OK\n", `{"ok":true}`},
		{"value", valueResult{found: true, rec: client.Record{Value: []byte("hello world")}}, "hello world\n", `{"found":true,"value":"hello world"}`},
		{"value with ttl", valueResult{found: true, rec: client.Record{Value: []byte("v"), ExpireAt: expire}}, "v\n",
			`{"expire_at":"2030-01-02T03:04:05Z","found":true,"value":"v"}`},
		{"not found", valueResult{}, "(not found)\n", `{"found":false}`},
		{"count", countResult{42}, "42\n", `{"count":42}`},
		{"scan", scanResult{[]client.Record{
			{HashKey: []byte("user1"), SortKey: []byte("a"), Value: []byte("1")},
			{HashKey: []byte("user 2"), SortKey: []byte("b"), Value: []byte("two words")},
		}}, "user1 a => 1\n\"user 2\" b => two words\n(2 records)\n",
			`[{"hash_key":"user1","sort_key":"a","value":"1"},{"hash_key":"user 2","sort_key":"b","value":"two words"}]`},
		{"scan one", scanResult{[]client.Record{{HashKey: []byte("h"), SortKey: []byte("s"), Value: []byte("v")}}},
			"h s => v\n(1 record)\n", `[{"hash_key":"h","sort_key":"s","value":"v"}]`},
		{"scan empty", scanResult{}, "(0 records)\n", `[]`},
		{"created", createdResult{&tandempb.TableInfo{Name: "demo", Id: 1, Partitions: 8, Replicas: 3}},
			"created table demo: id 1, 8 partitions, 3 replicas\n",
			`{"created_at":"-","id":1,"name":"demo","partitions":8,"replicas":3}`},
		{"tables", tablesResult{[]*tandempb.TableInfo{{Name: "demo", Id: 1, Partitions: 8, Replicas: 3, CreatedAtUnixMs: expire.UnixMilli()}}},
			"NAME  ID  PARTITIONS  REPLICAS  CREATED\ndemo  1   8           3         2030-01-02T03:04:05Z\n",
			`[{"created_at":"2030-01-02T03:04:05Z","id":1,"name":"demo","partitions":8,"replicas":3}]`},
		{"nodes", nodesResult{&tandempb.NodesResponse{Cluster: "east", Nodes: []*tandempb.NodeInfo{
			{Id: "n1", Addr: "127.0.0.1:7100", State: "alive", MetaRole: "leader", Replicas: 8, Leaders: 3, Moving: 1, LastContactUnixMs: expire.Add(-1500 * time.Millisecond).UnixMilli()},
			{Id: "n2", Addr: "127.0.0.1:7101", State: "dead"},
		}}, expire},
			"ID  ADDRESS         STATE  META    REPLICAS  LEADERS  MOVING  LAST CONTACT\n" +
				"n1  127.0.0.1:7100  alive  leader  8         3        1       1.5s ago\n" +
				"n2  127.0.0.1:7101  dead   -       0         0        0       -\n(cluster east, 2 nodes)\n",
			`[{"addr":"127.0.0.1:7100","cluster":"east","id":"n1","last_contact_unix_ms":` + strconv.FormatInt(expire.Add(-1500*time.Millisecond).UnixMilli(), 10) +
				`,"leaders":3,"meta_role":"leader","moving":1,"replicas":8,"state":"alive"},` +
				`{"addr":"127.0.0.1:7101","cluster":"east","id":"n2","last_contact_unix_ms":0,"leaders":0,"meta_role":"","moving":0,"replicas":0,"state":"dead"}]`},
		{"partitions", partitionsResult{&tandempb.PartitionsResponse{Partitions: []*tandempb.PartitionInfo{
			{Index: 0, LeaderId: "n1", LeaderAddr: "a:1", AppliedDecree: 7, SizeBytes: 3 << 20,
				Replicas: []*tandempb.ReplicaStatus{{NodeId: "n1", State: "leader"}, {NodeId: "n2", State: "follower"}}},
			{Index: 1},
		}}},
			"PARTITION  LEADER  ADDRESS  REPLICAS               APPLIED  SIZE\n" +
				"0          n1      a:1      n1:leader,n2:follower  7        3.0MiB\n" +
				"1          -       -        -                      0        0B\n",
			`[{"applied_decree":7,"index":0,"leader_addr":"a:1","leader_id":"n1","replicas":[` +
				`{"addr":"","applied_decree":0,"node_id":"n1","size_bytes":0,"state":"leader","term":0},` +
				`{"addr":"","applied_decree":0,"node_id":"n2","size_bytes":0,"state":"follower","term":0}],"size_bytes":3145728},` +
				`{"applied_decree":0,"index":1,"leader_addr":"","leader_id":"","replicas":[],"size_bytes":0}]`},
		{"config", configResult{[]*tandempb.ConfigEntry{{Key: "checkpoint.interval", Value: "30s", Help: "periodic checkpoints"}}},
			"KEY                  VALUE  HELP\ncheckpoint.interval  30s    periodic checkpoints\n",
			`[{"help":"periodic checkpoints","key":"checkpoint.interval","value":"30s"}]`},
		{"config set", configSetResult{&tandempb.ConfigEntry{Key: "checkpoint.retain", Value: "2"}},
			"checkpoint.retain = 2\n", `{"help":"","key":"checkpoint.retain","value":"2"}`},
		{"dup add", dupAddResult{info: &tandempb.DuplicationInfo{Id: "17", Table: "demo", RemoteAddr: "b:1", RemoteCluster: "west"}},
			"17\nduplicating demo to cluster west at b:1\n", `{"id":"17","remote_addr":"b:1","remote_cluster":"west","table":"demo"}`},
		{"dup add without cluster name", dupAddResult{info: &tandempb.DuplicationInfo{Id: "17", Table: "demo", RemoteAddr: "b:1"}},
			"17\nduplicating demo to b:1\n", `{"id":"17","remote_addr":"b:1","remote_cluster":"","table":"demo"}`},
		{"dup ls", dupListResult{[]*tandempb.DuplicationInfo{{Id: "17", Table: "demo", RemoteAddr: "b:1", State: "active", MaxLagDecrees: 1, MaxLagSeconds: 0.5}}},
			"ID  TABLE  REMOTE  CLUSTER  STATE   PROGRESS  MAX-LAG  REPLICATED  AGE\n17  demo   b:1     -        active  -         500ms/1  -           -\n(1 duplication)\n",
			`[{"created_at_unix_ms":0,"id":"17","max_lag_decrees":1,"max_lag_seconds":0.5,"progress":"","remote_addr":"b:1",` +
				`"remote_cluster":"","remote_note":"","replicated_age_seconds":0,"replicated_time_unix_ms":0,"state":"active","table":"demo"}]`},
		{"dup ls empty", dupListResult{}, "ID  TABLE  REMOTE  CLUSTER  STATE  PROGRESS  MAX-LAG  REPLICATED  AGE\n(0 duplications)\n", `[]`},
		{"dup show", dupShowResult{&tandempb.ShowDuplicationResponse{
			Duplication: &tandempb.DuplicationInfo{Id: "17", Table: "demo", RemoteAddr: "b:1", State: "active"},
			Partitions:  []*tandempb.DupPartitionStatus{{Partition: 3, State: "PREPARE", SourceLeader: "n2", BaseBytesDone: 1 << 20, BaseBytesTotal: 4 << 20}},
		}},
			"duplication 17: table demo to b:1, state active, max lag 0 decrees / 0.000s, replicated time unknown\n" +
				"PARTITION  STATE    BASE  CONFIRMED  SOURCE  LAG(decrees)  LAG(s)  BASE-PROGRESS  RETAINED  REBOOTSTRAPS  REPLICATED  AGE  LAST-ERROR\n" +
				"3          PREPARE  0     0          0       0             0.000   1.0MiB/4.0MiB  0B        0             -           -    -\n",
			`{"duplication":{"created_at_unix_ms":0,"id":"17","max_lag_decrees":0,"max_lag_seconds":0,"progress":"","remote_addr":"b:1",` +
				`"remote_cluster":"","remote_note":"","replicated_age_seconds":0,"replicated_time_unix_ms":0,"state":"active","table":"demo"},"partitions":[{"base_bytes_done":1048576,"base_bytes_total":4194304,` +
				`"base_checkpoint":"","base_decree":0,"confirmed_decree":0,"lag_decrees":0,"lag_seconds":0,` +
				`"last_contact_unix_ms":0,"last_error":"","partition":3,"rebootstraps":0,"replicated_age_seconds":0,"replicated_time_unix_ms":0,"retained_log_bytes":0,"shipped_entries":0,"source_decree":0,` +
				`"source_leader":"n2","state":"PREPARE"}]}`},
		{"dup rm", dupOpResult{table: "demo", id: "17", done: "removed"}, "duplication 17 removed\n",
			`{"done":"removed","id":"17","ok":true,"table":"demo"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var human, js bytes.Buffer
			if err := (&printer{out: &human}).print(tt.res); err != nil {
				t.Fatalf("human: %v", err)
			}
			if human.String() != tt.human {
				t.Errorf("human =\n%s\nwant\n%s", human.String(), tt.human)
			}
			if err := (&printer{out: &js, json: true}).print(tt.res); err != nil {
				t.Fatalf("json: %v", err)
			}
			if got := strings.TrimSpace(js.String()); got != tt.json {
				t.Errorf("json =\n%s\nwant\n%s", got, tt.json)
			}
			if !json.Valid(js.Bytes()) || strings.Count(js.String(), "\n") != 1 {
				t.Errorf("json is not one document on one line: %q", js.String())
			}
		})
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		in   uint64
		want string
	}{
		{0, "0B"}, {1023, "1023B"}, {1024, "1.0KiB"}, {1536, "1.5KiB"},
		{5 << 20, "5.0MiB"}, {3 << 30, "3.0GiB"}, {2 << 40, "2.0TiB"},
	}
	for _, tt := range tests {
		if got := humanBytes(tt.in); got != tt.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDisplay(t *testing.T) {
	tests := []struct {
		in        string
		key, vals string
	}{
		{"plain", "plain", "plain"},
		{"two words", `"two words"`, "two words"},
		{"", `""`, ""},
		{"a\"b", `"a\"b"`, `a"b`},
		{"\x00\xff", `"\x00\xff"`, `"\x00\xff"`},
		{"line\nbreak", `"line\nbreak"`, `"line\nbreak"`},
		{"héllo", "héllo", "héllo"},
	}
	for _, tt := range tests {
		if got := displayKey([]byte(tt.in)); got != tt.key {
			t.Errorf("displayKey(%q) = %s, want %s", tt.in, got, tt.key)
		}
		if got := displayValue([]byte(tt.in)); got != tt.vals {
			t.Errorf("displayValue(%q) = %s, want %s", tt.in, got, tt.vals)
		}
	}
}
