package replica

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/tandem-kv/tandem/internal/durable"
	"github.com/tandem-kv/tandem/rocksdb"
)

// appliedDecreeKey is the meta key under which every apply batch records the
// raft index it applied, atomically with the records it wrote.
var appliedDecreeKey = []byte("applied_decree")

// dataStore owns a replica's RocksDB instance and can swap it for a restored
// snapshot while readers wait.
//
// Directory layout under the replica dir: db/ (live), db.restore/ (a
// snapshot being unpacked), db.old/ (the instance a restore replaced).
type dataStore struct {
	dir    string
	shared *rocksdb.Shared
	opts   rocksdb.Options

	mu sync.RWMutex
	db *rocksdb.DB
	// generation changes whenever a restore replaces the instance, so
	// caches keyed by RocksDB file names know to start over.
	generation uint64
}

func openDataStore(dir string, sh *rocksdb.Shared, opts rocksdb.Options) (*dataStore, error) {
	s := &dataStore{dir: dir, shared: sh, opts: opts}
	if err := s.recoverSwap(); err != nil {
		return nil, err
	}
	db, err := rocksdb.Open(s.live(), sh, opts)
	if err != nil {
		return nil, fmt.Errorf("open replica data %s: %w", s.live(), err)
	}
	s.db = db
	return s, nil
}

func (s *dataStore) live() string    { return filepath.Join(s.dir, "db") }
func (s *dataStore) restore() string { return filepath.Join(s.dir, "db.restore") }
func (s *dataStore) old() string     { return filepath.Join(s.dir, "db.old") }

// recoverSwap finishes or undoes a restore that a crash interrupted.
func (s *dataStore) recoverSwap() error {
	if err := os.RemoveAll(s.restore()); err != nil {
		return err
	}
	_, liveErr := os.Stat(s.live())
	_, oldErr := os.Stat(s.old())
	if errors.Is(liveErr, os.ErrNotExist) && oldErr == nil {
		return os.Rename(s.old(), s.live())
	}
	return os.RemoveAll(s.old())
}

// with runs fn with the live instance; it blocks while a restore swaps it.
func (s *dataStore) with(fn func(db *rocksdb.DB) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return ErrClosed
	}
	return fn(s.db)
}

// acquire returns the live instance, read-locked until release: a
// restore waits for the reads in progress, and reads for a restore.
func (s *dataStore) acquire() (*rocksdb.DB, error) {
	s.mu.RLock()
	if s.db == nil {
		s.mu.RUnlock()
		return nil, ErrClosed
	}
	return s.db, nil
}

func (s *dataStore) release() { s.mu.RUnlock() }

// appliedDecree reads the decree recorded in the live instance.
func (s *dataStore) appliedDecree() (uint64, error) {
	var d uint64
	err := s.with(func(db *rocksdb.DB) error {
		v, ok, err := db.GetMeta(appliedDecreeKey)
		if err != nil || !ok {
			return err
		}
		if len(v) != 8 {
			return fmt.Errorf("applied decree: %d bytes: %w", len(v), ErrMalformedState)
		}
		d = binary.BigEndian.Uint64(v)
		return nil
	})
	return d, err
}

// swapIn replaces the live instance with the unpacked one at s.restore().
// Crash-safe with recoverSwap: live is renamed aside before the new one moves in.
func (s *dataStore) swapIn() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db != nil {
		if err := s.db.Close(); err != nil {
			return err
		}
		s.db = nil
	}
	if err := os.RemoveAll(s.old()); err != nil {
		return err
	}
	if err := os.Rename(s.live(), s.old()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Rename(s.restore(), s.live()); err != nil {
		return err
	}
	if err := durable.SyncDir(s.dir); err != nil {
		return err
	}
	db, err := rocksdb.Open(s.live(), s.shared, s.opts)
	if err != nil {
		return fmt.Errorf("open restored data: %w", err)
	}
	s.db = db
	s.generation++
	return os.RemoveAll(s.old())
}

// compacting reports whether RocksDB has a flush or compaction of the
// live instance running or pending.
func (s *dataStore) compacting() bool {
	busy := false
	_ = s.with(func(db *rocksdb.DB) error {
		for _, p := range []string{"rocksdb.num-running-compactions", "rocksdb.num-running-flushes", "rocksdb.compaction-pending"} {
			if v, _ := db.Property(p); v > 0 {
				busy = true
			}
		}
		return nil
	})
	return busy
}

func (s *dataStore) gen() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.generation
}

func (s *dataStore) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}
