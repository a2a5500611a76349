package main

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/proto/tandempb"
)

// firstDupID is the id the test peer gives its first duplication.
const firstDupID = 1795440808689

func (p *peer) AddDuplication(_ context.Context, r *tandempb.AddDuplicationRequest) (*tandempb.AddDuplicationResponse, error) {
	if err := p.checkTable(r.Table); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	d := &tandempb.DuplicationInfo{Id: strconv.Itoa(firstDupID + len(p.dups)), Table: r.Table,
		RemoteAddr: r.RemoteAddr, RemoteCluster: "west", State: "active", Progress: "8/8 LOG", MaxLagDecrees: 3, MaxLagSeconds: 0.012,
		ReplicatedTimeUnixMs: 1795440810123, ReplicatedAgeSeconds: 0.5}
	p.dups = append(p.dups, d)
	return &tandempb.AddDuplicationResponse{Duplication: d}, nil
}

func (p *peer) ListDuplications(_ context.Context, r *tandempb.ListDuplicationsRequest) (*tandempb.ListDuplicationsResponse, error) {
	if r.Table != "" {
		if err := p.checkTable(r.Table); err != nil {
			return nil, err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return &tandempb.ListDuplicationsResponse{Duplications: p.dups}, nil
}

// findDup returns the index of duplication id of table, under p.mu.
func (p *peer) findDup(table, id string) (int, error) {
	i := slices.IndexFunc(p.dups, func(d *tandempb.DuplicationInfo) bool { return d.Table == table && d.Id == id })
	if i < 0 {
		return -1, status.Errorf(codes.NotFound, "duplication %s of table %q not found", id, table)
	}
	return i, nil
}

func (p *peer) ShowDuplication(_ context.Context, r *tandempb.DuplicationRequest) (*tandempb.ShowDuplicationResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i, err := p.findDup(r.Table, r.DupId)
	if err != nil {
		return nil, err
	}
	return &tandempb.ShowDuplicationResponse{Duplication: p.dups[i], Partitions: []*tandempb.DupPartitionStatus{
		{Partition: 0, State: "LOG", BaseDecree: 10, ConfirmedDecree: 20, SourceDecree: 23, LagDecrees: 3, LagSeconds: 0.012,
			ReplicatedTimeUnixMs: 1795440810123, ReplicatedAgeSeconds: 0.5},
		{Partition: 1, State: "APP", BaseDecree: 7, SourceDecree: 9, LagDecrees: 9, LagSeconds: 1.5,
			BaseBytesDone: 12 << 20, BaseBytesTotal: 40 << 20, RetainedLogBytes: 2048, Rebootstraps: 1, LastError: "remote busy"},
	}}, nil
}

func (p *peer) PauseDuplication(_ context.Context, r *tandempb.DuplicationRequest) (*tandempb.DuplicationResponse, error) {
	return p.setDupState(r, "paused")
}

func (p *peer) StartDuplication(_ context.Context, r *tandempb.DuplicationRequest) (*tandempb.DuplicationResponse, error) {
	return p.setDupState(r, "active")
}

func (p *peer) RemoveDuplication(_ context.Context, r *tandempb.DuplicationRequest) (*tandempb.DuplicationResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i, err := p.findDup(r.Table, r.DupId)
	if err != nil {
		return nil, err
	}
	d := p.dups[i]
	p.dups = slices.Delete(p.dups, i, i+1)
	return &tandempb.DuplicationResponse{Duplication: d}, nil
}

func (p *peer) setDupState(r *tandempb.DuplicationRequest, state string) (*tandempb.DuplicationResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i, err := p.findDup(r.Table, r.DupId)
	if err != nil {
		return nil, err
	}
	p.dups[i].State = state
	return &tandempb.DuplicationResponse{Duplication: p.dups[i]}, nil
}

// TestDupScript drives every dup command against the test peer, in order:
// each case sees what the ones before it did.
func TestDupScript(t *testing.T) {
	p := mustStartPeer(t)
	id := strconv.Itoa(firstDupID)
	tests := []struct {
		name      string
		script    string
		json      bool
		code      int
		stdout    string
		stderrHas string
	}{
		{"ls without duplications", "create demo; dup ls", false, 0,
			"created table demo: id 1, 8 partitions, 1 replicas\nID  TABLE  REMOTE  CLUSTER  STATE  PROGRESS  MAX-LAG  REPLICATED  AGE\n(0 duplications)\n", ""},
		{"ls json without duplications", "dup ls demo", true, 0, "[]\n", ""},
		{"add", "dup add demo 10.0.0.2:7100", false, 0, id + "\nduplicating demo to cluster west at 10.0.0.2:7100\n", ""},
		{"add json", "dup add demo 10.0.0.3:7100", true, 0,
			`{"id":"1795440808690","remote_addr":"10.0.0.3:7100","remote_cluster":"west","table":"demo"}` + "\n", ""},
		{"add to unknown table", "dup add nope 10.0.0.2:7100", false, 2, "", `table "nope" not found`},
		{"ls", "dup ls demo", false, 0,
			"ID             TABLE  REMOTE         CLUSTER  STATE   PROGRESS  MAX-LAG  REPLICATED                AGE\n" +
				"1795440808689  demo   10.0.0.2:7100  west     active  8/8 LOG   12ms/3   2026-11-23T13:33:30.123Z  0.500s\n" +
				"1795440808690  demo   10.0.0.3:7100  west     active  8/8 LOG   12ms/3   2026-11-23T13:33:30.123Z  0.500s\n" +
				"(2 duplications)\n", ""},
		{"ls of unknown table", "dup ls nope", false, 2, "", `table "nope" not found`},
		{"show", "dup show demo " + id, false, 0,
			"duplication 1795440808689: table demo to cluster west at 10.0.0.2:7100, state active, max lag 3 decrees / 0.012s, replicated 2026-11-23T13:33:30.123Z (0.500s ago)\n" +
				"PARTITION  STATE  BASE  CONFIRMED  SOURCE  LAG(decrees)  LAG(s)  BASE-PROGRESS    RETAINED  REBOOTSTRAPS  REPLICATED                AGE     LAST-ERROR\n" +
				"0          LOG    10    20         23      3             0.012   -                0B        0             2026-11-23T13:33:30.123Z  0.500s  -\n" +
				"1          APP    7     0          9       9             1.500   12.0MiB/40.0MiB  2.0KiB    1             -                         -       remote busy\n", ""},
		{"show unknown id is 1", "dup show demo 42", false, 1, "", "not found"},
		{"pause", "dup pause demo " + id + "; dup ls", false, 0, "duplication 1795440808689 paused\n" +
			"ID             TABLE  REMOTE         CLUSTER  STATE   PROGRESS  MAX-LAG  REPLICATED                AGE\n" +
			"1795440808689  demo   10.0.0.2:7100  west     paused  8/8 LOG   12ms/3   2026-11-23T13:33:30.123Z  0.500s\n" +
			"1795440808690  demo   10.0.0.3:7100  west     active  8/8 LOG   12ms/3   2026-11-23T13:33:30.123Z  0.500s\n" +
			"(2 duplications)\n", ""},
		{"pause json", "dup pause demo " + id, true, 0,
			`{"done":"paused","duplication":{"created_at_unix_ms":0,"id":"1795440808689","max_lag_decrees":3,"max_lag_seconds":0.012,` +
				`"progress":"8/8 LOG","remote_addr":"10.0.0.2:7100","remote_cluster":"west","remote_note":"","replicated_age_seconds":0.5,"replicated_time_unix_ms":1795440810123,"state":"paused","table":"demo"},` +
				`"id":"1795440808689","ok":true,"table":"demo"}` + "\n", ""},
		{"start", "dup start demo " + id, false, 0, "duplication 1795440808689 started\n", ""},
		{"rm", "dup rm demo " + id + "; dup rm demo 1795440808690", false, 0,
			"duplication 1795440808689 removed\nduplication 1795440808690 removed\n", ""},
		{"rm again is 1", "dup rm demo " + id, false, 1, "", "not found"},
		{"ls after rm", "dup ls", true, 0, "[]\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv := []string{"--addr", p.addr, "-e", tt.script}
			if tt.json {
				argv = append([]string{"--json"}, argv...)
			}
			code, stdout, stderr := runShell(argv...)
			if code != tt.code || stdout != tt.stdout || !strings.Contains(stderr, tt.stderrHas) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d, %q, stderr with %q", code, stdout, stderr, tt.code, tt.stdout, tt.stderrHas)
			}
			if tt.stderrHas == "" && stderr != "" {
				t.Fatalf("unexpected stderr %q", stderr)
			}
		})
	}
}
