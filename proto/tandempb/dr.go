package tandempb

// Disaster recovery's error details (issue 13).

// ReasonSwitchedOver marks a write refused because its table was switched
// over (or is being switched over) to another cluster: the ErrorInfo's
// metadata names the new primary (MetaNewPrimaryCluster and
// MetaNewPrimaryAddrs, comma-separated). The write did not apply; the
// application writes to the new primary.
const ReasonSwitchedOver = "SWITCHED_OVER"

// ReasonDupRefused marks a duplication command refused in the state the
// duplication or its table is in (a paused duplication's switchover, a
// promote while the source answers); the message says why.
const ReasonDupRefused = "DUP_REFUSED"

// ReasonFailedOver marks a remote's answer that its follower table of the
// duplication was promoted (dup promote): it will not pull again.
const ReasonFailedOver = "FAILED_OVER"

// ErrorInfo metadata keys of ReasonSwitchedOver.
const (
	MetaNewPrimaryCluster = "new_primary_cluster"
	MetaNewPrimaryAddrs   = "new_primary_addrs"
	MetaTable             = "table"
)
