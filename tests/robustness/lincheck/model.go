package lincheck

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

var opKindNames = [...]string{"get", "set", "del", "multiset"}

func (k OpKind) String() string { return opKindNames[k] }

// MarshalText writes the kind's name, so saved histories read plainly.
func (k OpKind) MarshalText() ([]byte, error) {
	if k < 0 || int(k) >= len(opKindNames) {
		return nil, fmt.Errorf("lincheck: unknown operation kind %d", int(k))
	}
	return []byte(opKindNames[k]), nil
}

// UnmarshalText parses a kind's name.
func (k *OpKind) UnmarshalText(b []byte) error {
	i := slices.Index(opKindNames[:], string(b))
	if i < 0 {
		return fmt.Errorf("lincheck: unknown operation kind %q", b)
	}
	*k = OpKind(i)
	return nil
}

// IsWrite reports whether the kind changes records.
func (k OpKind) IsWrite() bool { return k != OpGet }

// Input is one operation on one hash key: Get, Set and Del name one sort
// key; MultiSet writes every SortKeys[i] = Values[i] atomically.
type Input struct {
	Kind     OpKind   `json:"kind"`
	HashKey  string   `json:"hash_key"`
	SortKeys []string `json:"sort_keys"`
	Values   []string `json:"values,omitempty"`
}

// Output is what a Get returned. Writes have no output: a write whose
// outcome is unknown is checked as returning at infinity, so it may or may
// not have happened, anywhere after its call.
type Output struct {
	Value string `json:"value,omitempty"`
	Found bool   `json:"found,omitempty"`
}

// state is one hash key's records, sort key -> value. Step never mutates
// a state; it returns a new one.
type state map[string]string

// step is the sequential specification of one operation on a hash key's
// records.
func step(s, in, out interface{}) (bool, interface{}) {
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
}

// hashKeyModel is the sequential specification of a hash key's records;
// histories are partitioned by hash key (records of different hash keys
// are independent). Budgeted copies replace its Step (see budget.go).
var hashKeyModel = porcupine.Model{
	Partition: partitionByHashKey,
	Init:      func() interface{} { return state{} },
	Step:      step,
	Equal:     func(a, b interface{}) bool { return maps.Equal(a.(state), b.(state)) },
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
