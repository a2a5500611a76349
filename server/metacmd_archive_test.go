package server

// The archive's operations were added after typed commands: they have no
// legacy form.
func init() {
	for _, op := range []string{opAddArchive, opSetArchiveState, opRemoveArchive} {
		typedOnlyOps[op] = true
	}
}
