package replica

import (
	"bytes"
	"errors"
	"testing"
)

func TestCommandRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		muts []Mutation
	}{
		{"empty", nil},
		{"put", []Mutation{{Op: OpPut, HashKey: []byte("h"), SortKey: []byte("s"), Value: []byte("v"), ExpireTS: 42}}},
		{"delete", []Mutation{{Op: OpDelete, HashKey: []byte("h"), SortKey: nil}}},
		{"mixed", []Mutation{
			{Op: OpPut, HashKey: []byte("h"), SortKey: []byte("a"), Value: bytes.Repeat([]byte("x"), 1000)},
			{Op: OpDelete, HashKey: []byte("h"), SortKey: []byte("b")},
			{Op: OpPut, HashKey: []byte("h"), SortKey: []byte(""), Value: nil},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeCommand(encodeCommand(tc.muts))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.muts) {
				t.Fatalf("got %d mutations, want %d", len(got), len(tc.muts))
			}
			for i := range got {
				w, g := tc.muts[i], got[i]
				if g.Op != w.Op || !bytes.Equal(g.HashKey, w.HashKey) || !bytes.Equal(g.SortKey, w.SortKey) ||
					!bytes.Equal(g.Value, w.Value) || g.ExpireTS != w.ExpireTS {
					t.Fatalf("mutation %d: got %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestDecodeCommandRejectsMalformed(t *testing.T) {
	good := encodeCommand([]Mutation{{Op: OpPut, HashKey: []byte("h"), SortKey: []byte("s"), Value: []byte("v")}})
	cases := map[string][]byte{
		"nil":          nil,
		"bad version":  {9, 1, 0},
		"unknown kind": {1, 9, 0},
		"huge count":   {1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"truncated":    good[:len(good)-2],
		"trailing":     append(append([]byte{}, good...), 7),
		"unknown op":   {1, 1, 1, 9, 0, 0},
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeCommand(b); !errors.Is(err, ErrMalformedCommand) {
				t.Fatalf("decodeCommand(%v) = %v, want ErrMalformedCommand", b, err)
			}
		})
	}
}

func FuzzDecodeCommand(f *testing.F) {
	f.Add(encodeCommand([]Mutation{{Op: OpPut, HashKey: []byte("h"), SortKey: []byte("s"), Value: []byte("v"), ExpireTS: 1}}))
	f.Add(encodeCommand([]Mutation{{Op: OpDelete, HashKey: []byte("h")}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		muts, err := decodeCommand(b)
		if err != nil {
			return
		}
		again, err := decodeCommand(encodeCommand(muts))
		if err != nil || len(again) != len(muts) {
			t.Fatalf("re-encode of a decoded command failed: %v", err)
		}
	})
}

func TestBatchAppliesItsCommandsInOrder(t *testing.T) {
	put := func(v string) []byte {
		return encodeCommand([]Mutation{{Op: OpPut, HashKey: []byte("h"), SortKey: []byte("k"), Value: []byte(v)}})
	}
	batch := encodeBatch([][]byte{put("1"), encodeDupConfirm("d", 7), put("2")})
	c, err := decode(batch)
	if err != nil || len(c.Batch) != 3 || c.Batch[1].DupID != "d" {
		t.Fatalf("decode batch: %+v, %v", c, err)
	}
	if _, err := decode(encodeBatch([][]byte{batch})); !errors.Is(err, ErrMalformedCommand) {
		t.Fatalf("nested batch: %v, want ErrMalformedCommand", err)
	}
	if _, err := decode(batch[:len(batch)-1]); !errors.Is(err, ErrMalformedCommand) {
		t.Fatalf("truncated batch: %v, want ErrMalformedCommand", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encodeBatch([][]byte{encodeCommand([]Mutation{{Op: OpDelete, HashKey: []byte("h")}}), encodeDupRelease("x")}))
	f.Add(encodeDuplicated([]DupEntry{{SourceDecree: 3, Command: encodeCommand(nil)}}, 5, 0))
	f.Add(encodeDuplicated([]DupEntry{{SourceDecree: 3, Command: encodeCommand(nil)}}, 5, 1700000000000))
	f.Add(encodeDupConfirm("dup", 9))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decode(b) // must not panic on any input
	})
}
