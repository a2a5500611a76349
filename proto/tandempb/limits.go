package tandempb

// MaxMessageBytes is the largest gRPC message, request or reply, a Tandem
// node accepts or sends and the SDK sends or accepts: 80 MiB. It sits above
// the largest value kv.max_value_bytes admits (64 MiB), so an oversized
// value is refused by the value limit, which names itself; a message over
// this cap (a batch of many large values, say) is refused whole with
// ResourceExhausted before any of it is applied.
const MaxMessageBytes = 80 << 20
