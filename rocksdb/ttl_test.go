package rocksdb

import (
	"fmt"
	"testing"
	"time"
)

func TestTTLInvisibleToReads(t *testing.T) {
	clock := newFakeClock()
	db := mustOpen(t, mustNewShared(t), Options{Now: clock.Now})
	exp := clock.Unix() + 10
	mustPut(t, db, "h", "ttl", "v", exp)
	mustPut(t, db, "h", "forever", "v", 0)
	mustPut(t, db, "h", "past", "v", clock.Unix()-1)

	tests := []struct {
		name      string
		advance   time.Duration
		sortKey   string
		wantFound bool
	}{
		{"before expiry", 0, "ttl", true},
		{"already expired on write", 0, "past", false},
		{"one second before", 9 * time.Second, "ttl", true},
		{"at expiry", time.Second, "ttl", false},
		{"never expires", time.Hour, "forever", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Advance(tt.advance)
			v, expireTS, found, err := db.Get([]byte("h"), []byte(tt.sortKey))
			if err != nil || found != tt.wantFound {
				t.Fatalf("Get = %q, %d, %v, %v; want found=%v", v, expireTS, found, err, tt.wantFound)
			}
			if found && tt.sortKey == "ttl" && expireTS != exp {
				t.Fatalf("expireTS = %d, want %d", expireTS, exp)
			}
		})
	}
	recs, _, err := db.Scan(ScanRange{})
	if err != nil || len(recs) != 1 || string(recs[0].SortKey) != "forever" {
		t.Fatalf("Scan after expiry = %+v, %v; want only the record that never expires", recs, err)
	}
}

func TestCompactionFilterDropsExpired(t *testing.T) {
	clock := newFakeClock()
	db := mustOpen(t, mustNewShared(t), Options{Now: clock.Now})
	for i := range 20 {
		exp := uint32(0)
		if i%2 == 0 {
			exp = clock.Unix() + 60
		}
		mustPut(t, db, "h", fmt.Sprintf("%02d", i), "v", exp)
	}
	mustWrite(t, db, func(b *Batch) { b.PutMeta([]byte("decree"), []byte("20")) })
	if err := db.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	// Compaction before expiry keeps everything.
	if err := db.Compact(); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	if n := rawRecordKeys(t, db); n != 20 {
		t.Fatalf("raw keys before expiry = %d, want 20", n)
	}
	clock.Advance(time.Minute)
	if n := rawRecordKeys(t, db); n != 20 {
		t.Fatalf("raw keys after expiry, before compaction = %d, want 20", n)
	}
	if err := db.Compact(); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	if n := rawRecordKeys(t, db); n != 10 {
		t.Fatalf("raw keys after compaction = %d, want 10", n)
	}
	if n, ok := db.Property("rocksdb.estimate-num-keys"); !ok || n != 10 {
		t.Fatalf("estimate-num-keys = %d, %v; want 10", n, ok)
	}
	if v, ok, err := db.GetMeta([]byte("decree")); err != nil || !ok || string(v) != "20" {
		t.Fatalf("meta after compaction = %q, %v, %v", v, ok, err)
	}
}

func TestFilterMalformedValueKept(t *testing.T) {
	f := &ttlFilter{now: newFakeClock().Now}
	if remove, _ := f.Filter(0, nil, []byte{1, 2}); remove {
		t.Fatal("filter removed a malformed value")
	}
	if remove, _ := f.Filter(0, nil, EncodeValue(1, nil)); !remove {
		t.Fatal("filter kept a record that expired in 1970")
	}
	if remove, _ := f.Filter(0, nil, EncodeValue(0, nil)); remove {
		t.Fatal("filter removed a record without expiry")
	}
}
