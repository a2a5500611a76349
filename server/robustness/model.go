package robustness

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"
)

// OpKind is a client operation the workload issues.
type OpKind int

// The operations the workload issues; the model checks all of them.
const (
	OpGet OpKind = iota
	OpSet
	OpDel
	OpMultiSet
)

func (k OpKind) String() string {
	return [...]string{"get", "set", "del", "multiset"}[k]
}

// Input is one operation on one hash key: Get, Set and Del name one sort
// key; MultiSet writes every SortKeys[i] = Values[i] atomically.
type Input struct {
	Kind     OpKind
	HashKey  string
	SortKeys []string
	Values   []string
}

// Output is what a Get returned. Writes have no output: a failed or
// timed-out write is recorded as returning at infinity, so it may or may
// not have happened, anywhere after its call.
type Output struct {
	Value string
	Found bool
}

// state is one hash key's records, sort key -> value. Step never mutates
// a state; it returns a new one.
type state map[string]string

// hashKeyModel is the sequential specification of a hash key's records;
// histories are partitioned by hash key (records of different hash keys
// are independent).
var hashKeyModel = porcupine.Model{
	Partition: partitionByHashKey,
	Init:      func() interface{} { return state{} },
	Step: func(s, in, out interface{}) (bool, interface{}) {
		st, i := s.(state), in.(Input)
		switch i.Kind {
		case OpGet:
			o := out.(Output)
			v, ok := st[i.SortKeys[0]]
			return ok == o.Found && (!ok || v == o.Value), st
		case OpDel:
			if _, ok := st[i.SortKeys[0]]; !ok {
				return true, st
			}
			next := maps.Clone(st)
			delete(next, i.SortKeys[0])
			return true, next
		default: // Set, MultiSet
			next := maps.Clone(st)
			for k, sk := range i.SortKeys {
				next[sk] = i.Values[k]
			}
			return true, next
		}
	},
	Equal: func(a, b interface{}) bool { return maps.Equal(a.(state), b.(state)) },
	DescribeOperation: func(in, out interface{}) string {
		i := in.(Input)
		switch i.Kind {
		case OpGet:
			o := out.(Output)
			if !o.Found {
				return fmt.Sprintf("get(%s/%s) -> absent", i.HashKey, i.SortKeys[0])
			}
			return fmt.Sprintf("get(%s/%s) -> %s", i.HashKey, i.SortKeys[0], o.Value)
		case OpDel:
			return fmt.Sprintf("del(%s/%s)", i.HashKey, i.SortKeys[0])
		}
		var kvs []string
		for k, sk := range i.SortKeys {
			kvs = append(kvs, sk+"="+i.Values[k])
		}
		return fmt.Sprintf("%s(%s: %s)", i.Kind, i.HashKey, strings.Join(kvs, ", "))
	},
	DescribeState: func(s interface{}) string {
		st := s.(state)
		var kvs []string
		for _, k := range slices.Sorted(maps.Keys(st)) {
			kvs = append(kvs, k+"="+st[k])
		}
		return "{" + strings.Join(kvs, ", ") + "}"
	},
}

func partitionByHashKey(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	for _, op := range history {
		hk := op.Input.(Input).HashKey
		byKey[hk] = append(byKey[hk], op)
	}
	var out [][]porcupine.Operation
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		out = append(out, byKey[k])
	}
	return out
}
