// RocksDB 7.8's C API cannot set Options::write_buffer_manager. This shim
// builds one WriteBufferManager per Shared, charging memtable memory to the
// shared block cache, and installs it on options before an instance opens.

#include <cstddef>
#include <memory>

#include "rocksdb/c.h"
#include "rocksdb/cache.h"
#include "rocksdb/options.h"
#include "rocksdb/write_buffer_manager.h"

// Layouts of the C API's opaque wrappers, as defined in RocksDB's db/c.cc.
struct rocksdb_options_t {
  rocksdb::Options rep;
};
struct rocksdb_cache_t {
  std::shared_ptr<rocksdb::Cache> rep;
};

// tandem_wbm_t keeps the Shared's reference to the manager; every options
// object and open DB it was installed on holds its own.
struct tandem_wbm_t {
  std::shared_ptr<rocksdb::WriteBufferManager> rep;
};

extern "C" tandem_wbm_t* tandem_wbm_create(size_t bytes,
                                           rocksdb_cache_t* cache) {
  auto* w = new tandem_wbm_t;
  w->rep = std::make_shared<rocksdb::WriteBufferManager>(
      bytes, cache->rep, /*allow_stall=*/false);
  return w;
}

extern "C" void tandem_wbm_destroy(tandem_wbm_t* w) { delete w; }

extern "C" void tandem_wbm_install(rocksdb_options_t* opts, tandem_wbm_t* w) {
  opts->rep.write_buffer_manager = w->rep;
}

extern "C" size_t tandem_wbm_memory_usage(tandem_wbm_t* w) {
  return w->rep->memory_usage();
}

extern "C" size_t tandem_wbm_buffer_size(tandem_wbm_t* w) {
  return w->rep->buffer_size();
}

// tandem_options_write_buffer_size reads a field through the assumed
// rocksdb_options_t layout, so tests can check that layout.
extern "C" size_t tandem_options_write_buffer_size(rocksdb_options_t* opts) {
  return opts->rep.write_buffer_size;
}

// tandem_cache_capacity reads the cache through the assumed rocksdb_cache_t
// layout, so tests can check that layout.
extern "C" size_t tandem_cache_capacity(rocksdb_cache_t* cache) {
  return cache->rep->GetCapacity();
}
