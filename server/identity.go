package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ErrWrongCluster is returned when a node is started on a data directory
// that belongs to another cluster name, node id or peer set than its flags
// say: it would keep the old metadata and form a second cluster beside the
// one its peers form (split brain).
var ErrWrongCluster = errors.New("server: data directory belongs to another cluster")

// identityFile records, in a node's data directory, which cluster and node
// the data belongs to.
const identityFile = "IDENTITY.json"

// identity is what identityFile holds.
type identity struct {
	Cluster string `json:"cluster"`
	NodeID  string `json:"node_id"`
	// Peers are the ids of the nodes the cluster was started with (their
	// addresses may change with --peers; their ids may not).
	Peers []string `json:"peers"`
	// Joined is set for a node that joined a running cluster with --join:
	// its peers are whoever the cluster has.
	Joined bool `json:"joined,omitempty"`
}

// checkIdentity compares the data directory's identity with the flags and
// records it when the directory has none yet.
func checkIdentity(dir string, want identity) error {
	path := filepath.Join(dir, identityFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return writeIdentity(path, want)
	}
	if err != nil {
		return err
	}
	var have identity
	if err := json.Unmarshal(b, &have); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if have.Cluster == want.Cluster && have.NodeID == want.NodeID && have.Joined == want.Joined && (want.Joined || slices.Equal(have.Peers, want.Peers)) {
		return nil
	}
	return fmt.Errorf("%w: %s holds node %s of cluster %q with peers [%s], but this node is started as %s of cluster %q with peers [%s]; start it with its original --id, --cluster and --peers, or give it another --data directory",
		ErrWrongCluster, dir, have.NodeID, have.Cluster, strings.Join(have.Peers, " "), want.NodeID, want.Cluster, strings.Join(want.Peers, " "))
}

func writeIdentity(path string, id identity) error {
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDirOf(path)
}

func syncDirOf(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// identityOf is the identity a node's configuration claims.
func identityOf(cfg Config, peers []Peer) identity {
	id := identity{Cluster: cfg.Cluster, NodeID: cfg.NodeID}
	if cfg.Join != "" {
		id.Joined = true
		return id
	}
	for _, p := range peers {
		id.Peers = append(id.Peers, p.ID)
	}
	slices.Sort(id.Peers)
	return id
}
