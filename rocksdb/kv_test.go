package rocksdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// logKey renders a raft-log style key: prefix byte + big-endian index.
func logKey(group byte, index uint64) []byte {
	k := make([]byte, 9)
	k[0] = group
	binary.BigEndian.PutUint64(k[1:], index)
	return k
}

// mustKVFixture returns a KV holding log entries 1..10 of group 1 and 5..7 of
// group 2, each value "g<group>-<index>".
func mustKVFixture(t *testing.T) *KV {
	t.Helper()
	kv := mustOpenKV(t, filepath.Join(t.TempDir(), "kv"), mustNewShared(t), Options{Sync: true})
	b := kv.NewBatch()
	defer b.Close()
	for i := uint64(1); i <= 10; i++ {
		b.Put(logKey(1, i), []byte(fmt.Sprintf("g1-%d", i)))
	}
	for i := uint64(5); i <= 7; i++ {
		b.Put(logKey(2, i), []byte(fmt.Sprintf("g2-%d", i)))
	}
	if b.Count() != 13 {
		t.Fatalf("batch Count = %d", b.Count())
	}
	if err := kv.Write(b); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return kv
}

func TestKVPutGet(t *testing.T) {
	kv := mustOpenKV(t, t.TempDir(), mustNewShared(t), Options{})
	if _, found, err := kv.Get([]byte("k")); err != nil || found {
		t.Fatalf("Get of missing key = %v, %v", found, err)
	}
	if err := kv.Put([]byte("k"), []byte("v")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := kv.Put([]byte("empty"), nil); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if v, found, err := kv.Get([]byte("k")); err != nil || !found || string(v) != "v" {
		t.Fatalf("Get = %q, %v, %v", v, found, err)
	}
	if v, found, err := kv.Get([]byte("empty")); err != nil || !found || v == nil || len(v) != 0 {
		t.Fatalf("Get of empty value = %q, %v, %v", v, found, err)
	}
	b := kv.NewBatch()
	b.Delete([]byte("k"))
	if err := kv.Write(b); err != nil {
		t.Fatalf("Write: %v", err)
	}
	b.Close()
	if _, found, _ := kv.Get([]byte("k")); found {
		t.Fatal("deleted key still found")
	}
}

func TestKVFirstLast(t *testing.T) {
	kv := mustKVFixture(t)
	tests := []struct {
		name         string
		lower, upper []byte
		first, last  string // values; "" means not found
	}{
		{"whole store", nil, nil, "g1-1", "g2-7"},
		{"group 1", []byte{1}, []byte{2}, "g1-1", "g1-10"},
		{"group 2", []byte{2}, []byte{3}, "g2-5", "g2-7"},
		{"group 2 unbounded", []byte{2}, nil, "g2-5", "g2-7"},
		{"inside group 1", logKey(1, 3), logKey(1, 6), "g1-3", "g1-5"},
		{"upper exclusive", logKey(1, 4), logKey(1, 5), "g1-4", "g1-4"},
		{"empty group", []byte{3}, []byte{4}, "", ""},
		{"lower equals upper", logKey(1, 4), logKey(1, 4), "", ""},
		{"empty upper", nil, []byte{}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				name string
				fn   func(l, u []byte) ([]byte, []byte, bool, error)
				want string
			}{{"First", kv.First, tt.first}, {"Last", kv.Last, tt.last}} {
				k, v, found, err := c.fn(tt.lower, tt.upper)
				if err != nil || found != (c.want != "") || string(v) != c.want {
					t.Fatalf("%s = %x, %q, %v, %v; want %q", c.name, k, v, found, err, c.want)
				}
				if found {
					if gv, _, _ := kv.Get(k); string(gv) != c.want {
						t.Fatalf("%s returned key %x whose value is %q", c.name, k, gv)
					}
				}
			}
		})
	}
}

func TestKVDeleteRange(t *testing.T) {
	kv := mustKVFixture(t)
	b := kv.NewBatch()
	b.DeleteRange(logKey(1, 1), logKey(1, 8)) // truncate the log prefix 1..7
	b.Put(logKey(1, 11), []byte("g1-11"))
	if err := kv.Write(b); err != nil {
		t.Fatalf("Write: %v", err)
	}
	b.Close()
	if err := kv.Write(b); !errors.Is(err, ErrBatchClosed) {
		t.Fatalf("Write of closed batch = %v, want ErrBatchClosed", err)
	}
	var got []string
	if err := kv.Iterate(nil, nil, func(_, v []byte) bool { got = append(got, string(v)); return true }); err != nil {
		t.Fatalf("Iterate: %v", err)
	}
	want := "[g1-8 g1-9 g1-10 g1-11 g2-5 g2-6 g2-7]"
	if fmt.Sprint(got) != want {
		t.Fatalf("after DeleteRange = %v, want %s", got, want)
	}
	// Range deletions survive a flush.
	if err := kv.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if _, v, _, _ := kv.First([]byte{1}, []byte{2}); string(v) != "g1-8" {
		t.Fatalf("First after flush = %q, want g1-8", v)
	}
}

func TestKVIterate(t *testing.T) {
	kv := mustKVFixture(t)
	tests := []struct {
		name         string
		lower, upper []byte
		stopAfter    int
		want         string
	}{
		{"group 2", []byte{2}, []byte{3}, 0, "[g2-5 g2-6 g2-7]"},
		{"stop early", []byte{1}, nil, 2, "[g1-1 g1-2]"},
		{"bounded", logKey(1, 9), logKey(2, 6), 0, "[g1-9 g1-10 g2-5]"},
		{"empty", []byte{9}, nil, 0, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := kv.Iterate(tt.lower, tt.upper, func(k, v []byte) bool {
				got = append(got, string(v))
				k[0], v[0] = 0xee, 'X' // callers own what they receive
				return tt.stopAfter == 0 || len(got) < tt.stopAfter
			})
			if err != nil || fmt.Sprint(got) != tt.want {
				t.Fatalf("Iterate = %v, %v; want %s", got, err, tt.want)
			}
		})
	}
	if v, _, _ := kv.Get(logKey(2, 5)); string(v) != "g2-5" {
		t.Fatalf("stored value changed to %q", v)
	}
}

func TestKVReopen(t *testing.T) {
	sh := mustNewShared(t)
	dir := filepath.Join(t.TempDir(), "kv")
	kv := mustOpenKV(t, dir, sh, Options{Sync: true})
	if err := kv.Put([]byte("k"), []byte("v")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := kv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	kv = mustOpenKV(t, dir, sh, Options{})
	if v, found, err := kv.Get([]byte("k")); err != nil || !found || string(v) != "v" {
		t.Fatalf("Get after reopen = %q, %v, %v", v, found, err)
	}
}

func TestKVConcurrentSyncedWriters(t *testing.T) {
	kv := mustOpenKV(t, t.TempDir(), mustNewShared(t), Options{Sync: true})
	const writers, perWriter = 16, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				b := kv.NewBatch()
				b.Put(logKey(byte(w), uint64(i)), []byte("v"))
				err := kv.Write(b)
				b.Close()
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("writer: %v", err)
	}
	n := 0
	if err := kv.Iterate(nil, nil, func(_, _ []byte) bool { n++; return true }); err != nil || n != writers*perWriter {
		t.Fatalf("Iterate counted %d, %v; want %d", n, err, writers*perWriter)
	}
}

func TestKVClosed(t *testing.T) {
	kv := mustKVFixture(t)
	b := kv.NewBatch()
	defer b.Close()
	b.Put([]byte("k"), []byte("v"))
	if err := kv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ops := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, _, err := kv.Get([]byte("k")); return err }},
		{"Put", func() error { return kv.Put([]byte("k"), nil) }},
		{"Write", func() error { return kv.Write(b) }},
		{"First", func() error { _, _, _, err := kv.First(nil, nil); return err }},
		{"Last", func() error { _, _, _, err := kv.Last(nil, nil); return err }},
		{"Iterate", func() error { return kv.Iterate(nil, nil, func(_, _ []byte) bool { return true }) }},
		{"Flush", kv.Flush},
		{"Close", kv.Close},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			if err := op.call(); !errors.Is(err, ErrClosed) {
				t.Fatalf("%s after Close = %v, want ErrClosed", op.name, err)
			}
		})
	}
}
