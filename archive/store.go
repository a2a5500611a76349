package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// archives
	_ "gocloud.dev/blob/s3blob"   // s3:// archives
	"gocloud.dev/gcerrors"
)

// Timeouts of one object store call, so a store that stops answering
// fails the call (and the archiver retries) instead of hanging it.
const (
	smallOpTimeout = 30 * time.Second
	fileOpTimeout  = 10 * time.Minute
)

// Store is one table's archive in a bucket: every key is under TABLE/ of
// the archive URL.
type Store struct {
	b     *blob.Bucket
	table string
}

// Object is a stored object's key (relative to the table) and size.
type Object struct {
	Key  string
	Size int64
}

// CheckURL reports, as ErrBadURL, an archive URL whose scheme the
// archive cannot open: file:///path, or s3://bucket[/prefix][?endpoint=
// URL&region=R&...] (any S3-compatible store; credentials from the
// server's environment, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY).
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %q: %v", ErrBadURL, raw, err)
	}
	switch u.Scheme {
	case "file":
		if u.Path == "" || u.Path == "/" || u.Host != "" {
			return fmt.Errorf("%w: %q: want file:///absolute/path", ErrBadURL, raw)
		}
		return nil
	case "s3":
		if u.Host == "" {
			return fmt.Errorf("%w: %q: want s3://bucket/prefix?endpoint=...", ErrBadURL, raw)
		}
		return nil
	}
	return fmt.Errorf("%w: %q: scheme %q is not supported (file://, s3://)", ErrBadURL, raw, u.Scheme)
}

// bucketURL is raw as the blob library opens it: a file:// archive's
// directory is created on first use and no metadata sidecars are written;
// an s3:// archive's path is its key prefix, and a store at an explicit
// endpoint is addressed path-style (as S3-compatible servers expect).
func bucketURL(raw string) (string, error) {
	if err := CheckURL(raw); err != nil {
		return "", err
	}
	u, _ := url.Parse(raw)
	q := u.Query()
	switch u.Scheme {
	case "file":
		q.Set("create_dir", "1")
		q.Set("metadata", "skip")
	case "s3":
		if p := strings.Trim(u.Path, "/"); p != "" {
			q.Set("prefix", p+"/")
		}
		u.Path = ""
		if q.Get("endpoint") != "" && q.Get("use_path_style") == "" && q.Get("s3ForcePathStyle") == "" {
			q.Set("use_path_style", "true")
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Open opens table's archive under the archive URL raw.
func Open(ctx context.Context, raw, table string) (*Store, error) {
	bu, err := bucketURL(raw)
	if err != nil {
		return nil, err
	}
	b, err := blob.OpenBucket(ctx, bu)
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %v", ErrBadURL, raw, err)
	}
	return &Store{b: blob.PrefixedBucket(b, table+"/"), table: table}, nil
}

// Close releases the bucket.
func (s *Store) Close() error { return s.b.Close() }

// storeErr classifies a blob library error.
func storeErr(op, key string, err error) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		return fmt.Errorf("%w: %s %s: %v", ErrArchiveNotFound, op, key, err)
	}
	return fmt.Errorf("%w: %s %s: %v", ErrStoreUnavailable, op, key, err)
}

// Put writes an object whole; a reader sees all of it or nothing.
func (s *Store) Put(ctx context.Context, key string, data []byte) error {
	ctx, cancel := context.WithTimeout(ctx, smallOpTimeout)
	defer cancel()
	if err := s.b.WriteAll(ctx, key, data, nil); err != nil {
		return storeErr("put", key, err)
	}
	return nil
}

// PutFile uploads a local file as an object.
func (s *Store) PutFile(ctx context.Context, key, path string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, fileOpTimeout)
	defer cancel()
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w, err := s.b.NewWriter(ctx, key, nil)
	if err != nil {
		return 0, storeErr("put", key, err)
	}
	n, err := io.Copy(w, f)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, storeErr("put", key, err)
	}
	return n, nil
}

// Exists reports whether an object exists.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, smallOpTimeout)
	defer cancel()
	ok, err := s.b.Exists(ctx, key)
	if err != nil {
		return false, storeErr("stat", key, err)
	}
	return ok, nil
}

// Get reads an object whole.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, fileOpTimeout)
	defer cancel()
	b, err := s.b.ReadAll(ctx, key)
	if err != nil {
		return nil, storeErr("get", key, err)
	}
	return b, nil
}

// Download copies an object into w.
func (s *Store) Download(ctx context.Context, key string, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, fileOpTimeout)
	defer cancel()
	if err := s.b.Download(ctx, key, w, nil); err != nil {
		return storeErr("get", key, err)
	}
	return nil
}

// Delete removes an object; a missing one is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, smallOpTimeout)
	defer cancel()
	if err := s.b.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return storeErr("delete", key, err)
	}
	return nil
}

// List returns the objects whose keys start with prefix, sorted by key.
func (s *Store) List(ctx context.Context, prefix string) ([]Object, error) {
	ctx, cancel := context.WithTimeout(ctx, fileOpTimeout)
	defer cancel()
	it := s.b.List(&blob.ListOptions{Prefix: prefix})
	var out []Object
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, storeErr("list", prefix, err)
		}
		if !o.IsDir {
			out = append(out, Object{Key: o.Key, Size: o.Size})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}
