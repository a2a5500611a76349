package lincheck

import "github.com/anishathalye/porcupine"

// Prune drops the ambiguous sets and multi-sets none of whose values any
// read returned, and returns the rest and how many it dropped. It does not
// change the verdict, and it is what keeps the search small: porcupine
// tries every subset of the pending ambiguous writes before each read that
// contradicts them, so a dozen writes pending at once during a fault cost
// minutes, pruned milliseconds.
//
// Why the verdict stays the same (every written value is unique):
//   - If the pruned history is linearizable, so is the full one: append
//     the dropped writes at the end of its linearization. Each was called
//     before the end and never returns, and nothing comes after it to read
//     its values.
//   - If the full history is linearizable, so is the pruned one: remove the
//     dropped writes from its linearization. A read of a record between a
//     dropped write and that record's next write would have returned the
//     dropped write's value, and none did; after that next write (a set or
//     a delete overwrites whatever was there) the state is as before.
//
// Ambiguous deletes are kept: what they leave (absent) cannot be told apart
// from other deletes or from no write, so no read rules them out.
func Prune(ops []porcupine.Operation) ([]porcupine.Operation, int) {
	read := map[RecordKey]map[string]bool{}
	for _, op := range ops {
		in, out := op.Input.(Input), op.Output.(Output)
		if in.Kind != OpGet || !out.Found {
			continue
		}
		k := RecordKey{in.HashKey, in.SortKeys[0]}
		if read[k] == nil {
			read[k] = map[string]bool{}
		}
		read[k][out.Value] = true
	}
	kept := make([]porcupine.Operation, 0, len(ops))
	for _, op := range ops {
		if op.Return == Never && unobserved(op.Input.(Input), read) {
			continue
		}
		kept = append(kept, op)
	}
	return kept, len(ops) - len(kept)
}

// unobserved reports whether in is a set or multi-set none of whose values
// appears in read.
func unobserved(in Input, read map[RecordKey]map[string]bool) bool {
	if in.Kind != OpSet && in.Kind != OpMultiSet {
		return false
	}
	for i, sk := range in.SortKeys {
		if read[RecordKey{in.HashKey, sk}][in.Values[i]] {
			return false
		}
	}
	return true
}
