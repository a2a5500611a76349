package replica

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/tandem-kv/tandem/internal/lenprefix"
)

// commandKindBatch carries several commands proposed at about the same
// time as one raft entry; they apply in order, as separate entries would.
const commandKindBatch byte = 5

// maxBatchBytes bounds one batched raft entry.
const maxBatchBytes = 4 << 20

// encodeBatch encodes commands as one raft command.
func encodeBatch(cmds [][]byte) []byte {
	size := 2 + binary.MaxVarintLen64
	for _, c := range cmds {
		size += binary.MaxVarintLen64 + len(c)
	}
	buf := make([]byte, 0, size)
	buf = append(buf, commandVersion, commandKindBatch)
	buf = binary.AppendUvarint(buf, uint64(len(cmds)))
	for _, c := range cmds {
		buf = lenprefix.Append(buf, c)
	}
	return buf
}

func decodeBatch(b []byte) ([]command, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: bad batch count", ErrMalformedCommand)
	}
	rest := b[k:]
	out := make([]command, 0, n)
	for i := uint64(0); i < n; i++ {
		var sub []byte
		var err error
		if sub, rest, err = lenprefix.Read(rest, ErrMalformedCommand); err != nil {
			return nil, err
		}
		if len(sub) >= 2 && sub[1] == commandKindBatch {
			return nil, fmt.Errorf("%w: nested batch", ErrMalformedCommand)
		}
		c, err := decode(sub)
		if err != nil {
			return nil, fmt.Errorf("batched command %d: %w", i, err)
		}
		out = append(out, c)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: trailing bytes after batch", ErrMalformedCommand)
	}
	return out, nil
}

type proposeResult struct {
	index uint64
	err   error
}

type proposal struct {
	cmd  []byte
	done chan proposeResult
}

// batcher turns concurrent proposals to one group into few raft entries:
// at most maxInflight entries are in flight, and whatever arrives meanwhile
// goes into the next one. Under load a raft round (a leader fsync, a
// follower round trip and fsync) then carries many writes instead of one,
// which is what bounds the write rate on a small machine.
type batcher struct {
	raft        *raft.Raft
	maxInflight int
	timeout     time.Duration

	mu       sync.Mutex
	queue    []*proposal
	inflight int
}

// propose queues cmd for the next raft entry and waits for its result. A
// caller whose ctx ends while cmd is still queued withdraws it, so it never
// reaches raft (ErrTimeout, safe to retry); once taken into an entry it may
// apply whatever happens to the caller (ErrOutcomeUnknown).
func (b *batcher) propose(ctx context.Context, cmd []byte) (uint64, error) {
	p := &proposal{cmd: cmd, done: make(chan proposeResult, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, p)
	start := b.inflight < b.maxInflight
	if start {
		b.inflight++
	}
	b.mu.Unlock()
	if start {
		go b.run()
	}
	select {
	case res := <-p.done:
		return res.index, res.err
	case <-ctx.Done():
	}
	if b.withdraw(p) {
		return 0, fmt.Errorf("%w: %v (the write was withdrawn before it was proposed)", ErrTimeout, ctx.Err())
	}
	select {
	case res := <-p.done: // answered meanwhile
		return res.index, res.err
	default:
	}
	return 0, fmt.Errorf("%w: %v (the write was proposed and may still apply)", ErrOutcomeUnknown, ctx.Err())
}

// withdraw removes p from the queue and reports whether it was still
// there; a proposal no longer queued has been taken into a raft entry.
func (b *batcher) withdraw(p *proposal) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, q := range b.queue {
		if q == p {
			b.queue = append(b.queue[:i:i], b.queue[i+1:]...)
			return true
		}
	}
	return false
}

// run proposes queued commands until the queue is empty.
func (b *batcher) run() {
	for {
		batch := b.take()
		if batch == nil {
			return
		}
		entry := batch[0].cmd
		if len(batch) > 1 {
			cmds := make([][]byte, len(batch))
			for i, p := range batch {
				cmds[i] = p.cmd
			}
			entry = encodeBatch(cmds)
		}
		res := proposeResult{}
		f := b.raft.Apply(entry, b.timeout)
		if res.err = f.Error(); res.err != nil {
			res.err = mapRaftError(res.err)
		} else if err, ok := f.Response().(error); ok {
			res.err = err
		} else {
			res.index = f.Index()
		}
		for _, p := range batch {
			p.done <- res
		}
	}
}

// take removes up to maxBatchBytes of queued proposals, or releases the
// in-flight slot when there are none.
func (b *batcher) take() []*proposal {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) == 0 {
		b.inflight--
		return nil
	}
	n, size := 0, 0
	for n < len(b.queue) && (n == 0 || size+len(b.queue[n].cmd) <= maxBatchBytes) {
		size += len(b.queue[n].cmd)
		n++
	}
	batch := b.queue[:n:n]
	b.queue = b.queue[n:]
	return batch
}
