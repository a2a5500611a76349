package tandempb

// RequestIDHeader is the gRPC metadata key of a client's id for one
// metadata change (CreateTable, AddDuplication). The SDK sends the same id
// on every retry of a call, so the server answers a retry of a change that
// was applied although its answer was lost with the result, not "already
// exists".
const RequestIDHeader = "x-tandem-request-id"
