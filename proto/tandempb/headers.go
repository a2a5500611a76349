package tandempb

// RequestIDHeader is the gRPC metadata key of a client's id for one
// metadata change (CreateTable, AddDuplication). The SDK sends the same id
// on every retry of a call, so the server answers a retry of a change that
// was applied although its answer was lost with the result, not "already
// exists".
const RequestIDHeader = "x-tandem-request-id"

// ErrorDomain is the domain of the ErrorInfo details Tandem attaches to
// statuses whose code alone does not say what a client should do.
const ErrorDomain = "tandem-kv"

// ReasonRemoteUnreachable marks a node's answer that a remote cluster did
// not answer it: final, not a reason to ask another node.
const ReasonRemoteUnreachable = "REMOTE_UNREACHABLE"

// Reasons of membership refusals (node add, drain, rm).
const (
	ReasonUnknownNode  = "UNKNOWN_NODE"
	ReasonNodeRemoved  = "NODE_REMOVED"
	ReasonLastCopy     = "LAST_COPY"
	ReasonLastVoter    = "LAST_VOTER"
	ReasonWrongCluster = "WRONG_CLUSTER"
	ReasonNotDrained   = "NOT_DRAINED"
)
