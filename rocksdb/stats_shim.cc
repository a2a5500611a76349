// RocksDB 7.8's C API gives each options object statistics of its own and
// reads them only as text. This shim makes one Statistics object per Shared
// (per node), installs it on every instance's options, and reads the few
// tickers the node exports.

#include <cstdint>
#include <memory>

#include "rocksdb/c.h"
#include "rocksdb/options.h"
#include "rocksdb/statistics.h"

// Layout of the C API's opaque options wrapper, as defined in RocksDB's
// db/c.cc (wbm_shim.cc defines the same).
struct rocksdb_options_t {
  rocksdb::Options rep;
};

struct tandem_stats_t {
  std::shared_ptr<rocksdb::Statistics> rep;
};

extern "C" tandem_stats_t* tandem_stats_create() {
  auto* s = new tandem_stats_t;
  s->rep = rocksdb::CreateDBStatistics();
  // Tickers only: histograms and timers cost on every operation.
  s->rep->set_stats_level(rocksdb::StatsLevel::kExceptHistogramOrTimers);
  return s;
}

extern "C" void tandem_stats_destroy(tandem_stats_t* s) { delete s; }

extern "C" void tandem_stats_install(rocksdb_options_t* opts,
                                     tandem_stats_t* s) {
  opts->rep.statistics = s->rep;
}

// tandem_stats_tickers reads block cache hits and misses and write stall
// microseconds, in that order.
extern "C" void tandem_stats_tickers(tandem_stats_t* s, uint64_t* out) {
  out[0] = s->rep->getTickerCount(rocksdb::BLOCK_CACHE_HIT);
  out[1] = s->rep->getTickerCount(rocksdb::BLOCK_CACHE_MISS);
  out[2] = s->rep->getTickerCount(rocksdb::STALL_MICROS);
}
