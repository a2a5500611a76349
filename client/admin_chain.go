package client

import "fmt"

// ErrDupCycle is returned by AddDuplication when the duplication would
// close a cycle: the remote's table already reaches this cluster through
// its duplications and theirs (a chain). It is also ErrAlreadyExists: the
// remote has the table. Only Switchover reverses a duplication.
var ErrDupCycle = fmt.Errorf("client: duplication would close a cycle: %w", ErrAlreadyExists)
