// Package proto holds Tandem's protobuf definitions; the generated Go code is
// in proto/tandempb and is regenerated with `make proto`.
package proto
