// Flushing several column families in one request is not in RocksDB 7.8's C
// API (rocksdb_flush_cfs came later), and with atomic_flush a single-family
// flush racing a background flush of all families trips an assertion in
// DBImpl::AtomicFlushMemTablesToOutputFiles. This shim calls the C++
// DB::Flush(options, handles) that flushes them all as one atomic request.

#include <cstdlib>
#include <cstring>
#include <vector>

#include "rocksdb/c.h"
#include "rocksdb/db.h"

// Layouts of the C API's opaque wrappers, as defined in RocksDB's db/c.cc.
struct rocksdb_t {
  rocksdb::DB* rep;
};
struct rocksdb_column_family_handle_t {
  rocksdb::ColumnFamilyHandle* rep;
};

extern "C" char* tandem_flush_cfs(rocksdb_t* db,
                                  rocksdb_column_family_handle_t** cfs,
                                  int n) {
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  handles.reserve(n);
  for (int i = 0; i < n; i++) {
    handles.push_back(cfs[i]->rep);
  }
  rocksdb::FlushOptions fo;
  fo.wait = true;
  rocksdb::Status s = db->rep->Flush(fo, handles);
  if (s.ok()) {
    return nullptr;
  }
  return strdup(s.ToString().c_str());
}
