package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// Membership commands: node add (how), node drain, node rm, rebalance.

// nodeCommand is `node` and its subcommands.
func nodeCommand() *command {
	return &command{name: "node", help: "add, drain and remove nodes", subs: []*command{
		{name: "add", help: "how to add a node: start it with --join (nothing to run here)", run: runNodeAdd},
		{name: "drain", usage: "ID", help: "move every replica and leadership off a node while it runs; watch nodes or rebalance",
			minArgs: 1, maxArgs: 1, run: runNodeDrain, change: adminChange("the node may be draining", "nodes")},
		{name: "rm", usage: "ID", help: "remove a drained or dead node from the cluster (refused while it holds the only copy of anything)",
			minArgs: 1, maxArgs: 1, run: runNodeRm, change: adminChange("the node may have been removed", "nodes")},
	}}
}

// rebalanceCommand is `rebalance`.
func rebalanceCommand() *command {
	return &command{name: "rebalance", help: "replica moves in progress (re-replication, drains) and partitions short of replicas", run: runRebalance}
}

func runNodeAdd(ctx context.Context, s *session, _ args) (result, error) {
	addr := strings.Join(s.cfg.Addrs, ",")
	return messageResult{text: "start the new node with --join pointing at any member, e.g.:\n" +
		"  tandem-server --id n4 --addr HOST:PORT --http HOST:PORT --data DIR --cluster NAME --join " + firstAddr(addr) + "\n" +
		"it registers itself, follows the meta group and takes replicas of new tables; nodes shows it"}, nil
}

func firstAddr(addrs string) string {
	if a, _, ok := strings.Cut(addrs, ","); ok {
		return a
	}
	if addrs == "" {
		return "MEMBER:PORT"
	}
	return addrs
}

func runNodeDrain(ctx context.Context, s *session, a args) (result, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	ni, err := c.DrainNode(ctx, a.arg(0))
	if err != nil {
		return nil, err
	}
	return nodeOpResult{"draining", ni}, nil
}

func runNodeRm(ctx context.Context, s *session, a args) (result, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	ni, err := c.RemoveNode(ctx, a.arg(0))
	if err != nil {
		return nil, err
	}
	return nodeOpResult{"removed", ni}, nil
}

func runRebalance(ctx context.Context, s *session, _ args) (result, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := c.Rebalance(ctx)
	if err != nil {
		return nil, err
	}
	return rebalanceResult{resp, time.Now()}, nil
}

// nodeOpResult is node drain's and node rm's answer.
type nodeOpResult struct {
	op   string
	node *tandempb.NodeInfo
}

func (r nodeOpResult) human(w io.Writer) error {
	return line(w, fmt.Sprintf("node %s %s: state %s, %d replicas placed, %d moving", r.node.GetId(), r.op,
		r.node.GetState(), r.node.GetReplicas(), r.node.GetMoving()))
}

func (r nodeOpResult) json() any {
	return map[string]any{"id": r.node.GetId(), "state": r.node.GetState(), "replicas": r.node.GetReplicas(), "moving": r.node.GetMoving()}
}

// rebalanceResult is rebalance's answer.
type rebalanceResult struct {
	resp *tandempb.RebalanceResponse
	now  time.Time
}

func (r rebalanceResult) human(w io.Writer) error {
	rows := [][]string{{"TABLE", "PARTITION", "FROM", "TO", "PHASE", "REASON", "AGE"}}
	for _, m := range r.resp.GetMoves() {
		rows = append(rows, []string{m.GetTable(), strconv.Itoa(int(m.GetPartition())), m.GetFromNode(), m.GetToNode(),
			m.GetPhase(), m.GetReason(), contactAge(m.GetStartedUnixMs(), r.now)})
	}
	if err := table(w, rows); err != nil {
		return err
	}
	return line(w, fmt.Sprintf("(%s in progress, %s short of replicas)", plural(len(r.resp.GetMoves()), "move"),
		plural(int(r.resp.GetUnderReplicated()), "partition")))
}

func (r rebalanceResult) json() any {
	moves := make([]map[string]any, 0, len(r.resp.GetMoves()))
	for _, m := range r.resp.GetMoves() {
		moves = append(moves, map[string]any{"table": m.GetTable(), "partition": m.GetPartition(), "from": m.GetFromNode(),
			"to": m.GetToNode(), "phase": m.GetPhase(), "reason": m.GetReason(), "started_unix_ms": m.GetStartedUnixMs()})
	}
	return map[string]any{"moves": moves, "under_replicated": r.resp.GetUnderReplicated()}
}
