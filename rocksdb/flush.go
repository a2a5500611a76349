package rocksdb

/*
#cgo CXXFLAGS: -std=c++17
#cgo LDFLAGS: -lrocksdb -lstdc++
#include <stdlib.h>
#include "rocksdb/c.h"

char* tandem_flush_cfs(rocksdb_t* db, rocksdb_column_family_handle_t** cfs, int n);
*/
import "C"

import (
	"errors"
	"unsafe"

	"github.com/linxGnu/grocksdb"
)

// flushAll flushes every given column family of db in one atomic flush
// request and waits for it.
//
// grocksdb v1.7.15 exposes neither rocksdb_flush_cfs nor its C handles, so
// this reads the C pointer that is the first field of grocksdb.DB and of
// grocksdb.ColumnFamilyHandle. TestFlushAll guards that assumption.
func flushAll(db *grocksdb.DB, cfs []*grocksdb.ColumnFamilyHandle) error {
	handles := C.malloc(C.size_t(len(cfs)) * C.size_t(unsafe.Sizeof(uintptr(0))))
	defer C.free(handles)
	hs := unsafe.Slice((**C.rocksdb_column_family_handle_t)(handles), len(cfs))
	for i, cf := range cfs {
		hs[i] = *(**C.rocksdb_column_family_handle_t)(unsafe.Pointer(cf))
	}
	cdb := *(**C.rocksdb_t)(unsafe.Pointer(db))
	cerr := C.tandem_flush_cfs(cdb, (**C.rocksdb_column_family_handle_t)(handles), C.int(len(cfs)))
	if cerr == nil {
		return nil
	}
	defer C.free(unsafe.Pointer(cerr))
	return errors.New(C.GoString(cerr))
}
