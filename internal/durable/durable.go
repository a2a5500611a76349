// Package durable makes file system changes survive a crash: a directory's
// entries synced, a file replaced atomically. Checkpoints (manifests, pins)
// and replicas (restored instances) build on it.
package durable

import (
	"os"
	"path/filepath"
)

// SyncDir fsyncs dir, so the entries created, renamed or removed in it
// are durable.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// WriteFile replaces path with data atomically and durably: a crash leaves
// either the old file or the new one, whole. The data goes to a temporary
// file beside it, which is fsynced, renamed over path, and the directory
// fsynced.
func WriteFile(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}
