package server

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/tandem-kv/tandem/replica"
)

func TestNodeRefusesADataDirectoryOfAnotherCluster(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n1")
	single := identity{Cluster: "local", NodeID: "n1", Peers: []string{"n1"}}
	if err := checkIdentity(dir+"/", single); err == nil {
		t.Fatal("missing directory: want an error")
	}
	dir = t.TempDir()
	if err := checkIdentity(dir, single); err != nil {
		t.Fatalf("first start: %v", err)
	}
	if err := checkIdentity(dir, single); err != nil {
		t.Fatalf("restart with the same flags: %v", err)
	}
	for name, id := range map[string]identity{
		"cluster": {Cluster: "east", NodeID: "n1", Peers: []string{"n1"}},
		"peers":   {Cluster: "local", NodeID: "n1", Peers: []string{"n1", "n2", "n3"}},
		"node":    {Cluster: "local", NodeID: "n2", Peers: []string{"n1"}},
	} {
		if err := checkIdentity(dir, id); !errors.Is(err, ErrWrongCluster) {
			t.Errorf("other %s: got %v, want ErrWrongCluster", name, err)
		}
	}
}

// The README once led here: `make run` made ./data/n1 a single-node
// cluster "local", then the three-node walkthrough started n1 on the same
// directory as cluster "east" with new peers, and n1 kept its old metadata.
func TestNodeWithOtherClusterFlagsDoesNotStart(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Cluster, cfg.Addr, cfg.HTTPAddr = t.TempDir(), "local", "127.0.0.1:0", ""
	cfg.Raft = replica.FastRaftTiming()
	n, err := NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	cfg.Cluster = "east"
	cfg.Peers = []Peer{{ID: "n1", Addr: "127.0.0.1:1"}, {ID: "n2", Addr: "127.0.0.1:2"}, {ID: "n3", Addr: "127.0.0.1:3"}}
	if n, err := NewNode(cfg); !errors.Is(err, ErrWrongCluster) {
		if n != nil {
			n.Close()
		}
		t.Fatalf("restart as another cluster: got %v, want ErrWrongCluster", err)
	}
}
