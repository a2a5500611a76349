package rocksdb

/*
#include <stdlib.h>
#include "rocksdb/c.h"

typedef struct tandem_wbm_t tandem_wbm_t;

tandem_wbm_t* tandem_wbm_create(size_t bytes, rocksdb_cache_t* cache);
void tandem_wbm_destroy(tandem_wbm_t* w);
void tandem_wbm_install(rocksdb_options_t* opts, tandem_wbm_t* w);
size_t tandem_wbm_memory_usage(tandem_wbm_t* w);
size_t tandem_wbm_buffer_size(tandem_wbm_t* w);
size_t tandem_options_write_buffer_size(rocksdb_options_t* opts);
size_t tandem_cache_capacity(rocksdb_cache_t* cache);
*/
import "C"

import (
	"unsafe"

	"github.com/linxGnu/grocksdb"
)

// writeBufferManager is a RocksDB WriteBufferManager shared by every
// instance of one Shared: it caps their memtables' total memory, flushing the
// writing instance's memtables when the cap is reached, and charges that
// memory to the block cache, so blocks and memtables share one budget.
//
// grocksdb v1.7.15 does not expose WriteBufferManager, so wbm_shim.cc calls
// the C++ API on the C pointers that are the first field of grocksdb.Options
// and grocksdb.Cache. TestWriteBufferManagerLayout guards those assumptions.
type writeBufferManager struct {
	c *C.tandem_wbm_t
}

// newWriteBufferManager returns a manager capping memtables at bytes and
// charging them to cache.
func newWriteBufferManager(bytes uint64, cache *grocksdb.Cache) *writeBufferManager {
	return &writeBufferManager{c: C.tandem_wbm_create(C.size_t(bytes), cCache(cache))}
}

// install makes the instance opened with o use the manager. o keeps its own
// reference, so the instance outlives destroy.
func (w *writeBufferManager) install(o *grocksdb.Options) {
	C.tandem_wbm_install(cOptions(o), w.c)
}

// usage returns the memtable bytes currently charged to the manager.
func (w *writeBufferManager) usage() uint64 {
	return uint64(C.tandem_wbm_memory_usage(w.c))
}

// limit returns the manager's memtable cap.
func (w *writeBufferManager) limit() uint64 {
	return uint64(C.tandem_wbm_buffer_size(w.c))
}

// destroy drops this reference to the manager.
func (w *writeBufferManager) destroy() {
	C.tandem_wbm_destroy(w.c)
	w.c = nil
}

// cOptions returns the rocksdb_options_t behind o.
func cOptions(o *grocksdb.Options) *C.rocksdb_options_t {
	return *(**C.rocksdb_options_t)(unsafe.Pointer(o))
}

// cCache returns the rocksdb_cache_t behind c.
func cCache(c *grocksdb.Cache) *C.rocksdb_cache_t {
	return *(**C.rocksdb_cache_t)(unsafe.Pointer(c))
}

// optionsWriteBufferSize reads write_buffer_size through the layout the
// shim assumes; only tests use it.
func optionsWriteBufferSize(o *grocksdb.Options) uint64 {
	return uint64(C.tandem_options_write_buffer_size(cOptions(o)))
}

// cacheCapacity reads the capacity through the layout the shim assumes; only
// tests use it.
func cacheCapacity(c *grocksdb.Cache) uint64 {
	return uint64(C.tandem_cache_capacity(cCache(c)))
}
