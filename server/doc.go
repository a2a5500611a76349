// Package server wires a tandem-server process: configuration, the meta
// raft group (tables, placement, runtime config), the partition replicas
// placed on this node, the KV and Admin gRPC services, and the HTTP
// endpoints (/healthz, /metrics, /status).
package server
