package client

import "github.com/tandem-kv/tandem/proto/tandempb"

// DupAddOption changes what AddDuplication asks for.
type DupAddOption func(*tandempb.AddDuplicationRequest)

// FromArchive seeds the duplication from the table's archive at url: each
// remote partition takes its base and the archived log up to the
// archive's newest point from the bucket, and pulls only the log after it
// from the source, which serves no base. The source refuses, with
// ErrDupRefused, an archive of another table, one without a base, or a
// partition whose log after the archived point it no longer holds (a
// plain AddDuplication then pulls the base from the source).
func FromArchive(url string) DupAddOption {
	return func(r *tandempb.AddDuplicationRequest) { r.FromArchive = url }
}
