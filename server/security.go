package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tandem-kv/tandem/internal/netaddr"
	"github.com/tandem-kv/tandem/raftnet"
)

// Security on the node's one RPC port.
//
// With a TLSIdentity the listener is wrapped in TLS before the mux sniffs
// it, so gRPC and raft both run inside TLS. Clients may connect without a
// certificate (they authenticate with a token); raft connections must
// present one signed by the CA, and a node presents its own certificate on
// every connection it opens: raft, node-to-node gRPC and calls to a remote
// cluster, whose server certificate it checks against the same CA. Two
// clusters that duplicate therefore share a CA (or list both in --tls-ca).
//
// With Tokens every gRPC call needs a role: a verified client certificate
// is a cluster identity with role admin; any other caller needs an
// `authorization: Bearer TOKEN` header naming a token of the file.

var (
	// ErrBadTokenFile is returned for an --auth-tokens file that cannot be
	// read or has a malformed line.
	ErrBadTokenFile = errors.New("server: bad auth tokens file")
	// ErrBadTLSFiles is returned when --tls-cert, --tls-key and --tls-ca
	// are incomplete or cannot be loaded.
	ErrBadTLSFiles = errors.New("server: bad TLS files")
)

// TLSIdentity is a node's certificate and the CAs it trusts for peers,
// clients' certificates and remote clusters.
type TLSIdentity struct {
	Cert tls.Certificate
	CAs  *x509.CertPool
}

// LoadTLSIdentity loads --tls-cert, --tls-key and --tls-ca. All three empty
// means no TLS (nil, nil); any other incomplete set is an error.
func LoadTLSIdentity(certFile, keyFile, caFile string) (*TLSIdentity, error) {
	if certFile == "" && keyFile == "" && caFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" || caFile == "" {
		return nil, fmt.Errorf("%w: --tls-cert, --tls-key and --tls-ca go together (got cert %q, key %q, ca %q)", ErrBadTLSFiles, certFile, keyFile, caFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTLSFiles, err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTLSFiles, err)
	}
	cas := x509.NewCertPool()
	if !cas.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: %s holds no PEM certificate", ErrBadTLSFiles, caFile)
	}
	return &TLSIdentity{Cert: cert, CAs: cas}, nil
}

// serverConfig is the TLS config of the node's listener.
func (id *TLSIdentity) serverConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{id.Cert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    id.CAs,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2"}, // gRPC clients insist on ALPN h2
	}
}

// clientConfig is the TLS config of the node's outgoing connections.
func (id *TLSIdentity) clientConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{id.Cert},
		RootCAs:      id.CAs,
		MinVersion:   tls.VersionTLS12,
	}
}

// validateSecurity reports a security setup the node cannot run with.
func (c Config) validateSecurity() error {
	if c.AuthTokens == nil || c.TLS != nil {
		return nil
	}
	if role, ok := c.AuthTokens.Lookup(c.AuthToken); !ok || role != RoleAdmin {
		return errors.New("server config: auth without TLS needs this node's own token (--auth-token-file) listed with role admin in --auth-tokens: node-to-node calls present it")
	}
	return nil
}

// securityWarnings lists what is unsafe about serving on addr with cfg.
func securityWarnings(cfg Config, addr net.Addr) []string {
	var out []string
	exposed := !netaddr.Loopback(addr.String())
	switch {
	case cfg.TLS == nil && exposed:
		out = append(out, "listening on a non-loopback address without TLS: traffic travels in clear (see --tls-cert, --tls-key, --tls-ca)")
	case cfg.TLS != nil && cfg.AuthTokens == nil && exposed:
		out = append(out, "listening on a non-loopback address without --auth-tokens: any client that reaches the port may read and change data")
	}
	if cfg.TLS == nil && cfg.AuthTokens != nil {
		out = append(out, "auth without TLS: tokens and raft traffic travel in clear")
	}
	return out
}

// newMux puts the node's listener under the mux, in TLS when configured,
// and logs the warnings of the setup.
func (n *Node) newMux(ln net.Listener) *raftnet.Mux {
	for _, w := range securityWarnings(n.cfg, ln.Addr()) {
		n.lg.Warn(w, zap.Stringer("addr", ln.Addr()))
	}
	if n.cfg.TLS == nil {
		return raftnet.NewMux(ln, n.lg)
	}
	return raftnet.NewTLSMux(ln, n.cfg.TLS.serverConfig(), n.cfg.TLS.clientConfig(), n.lg)
}

// securityServerOptions are the gRPC server options TLS and auth add.
func (n *Node) securityServerOptions() []grpc.ServerOption {
	var opts []grpc.ServerOption
	if n.cfg.TLS != nil {
		opts = append(opts, grpc.Creds(muxTLSCreds{}))
	}
	if n.cfg.AuthTokens != nil {
		a := &authorizer{tokens: n.cfg.AuthTokens}
		opts = append(opts, grpc.ChainUnaryInterceptor(a.unary), grpc.ChainStreamInterceptor(a.stream))
	}
	return opts
}

// dialOptions are the credentials and keepalive of the node's outgoing gRPC
// connections.
func (n *Node) dialOptions() []grpc.DialOption {
	creds := insecure.NewCredentials()
	if n.cfg.TLS != nil {
		creds = credentials.NewTLS(n.cfg.TLS.clientConfig())
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds), keepaliveDialOption()}
	if n.cfg.AuthToken != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearerToken(n.cfg.AuthToken)))
	}
	return opts
}

// muxTLSCreds tells gRPC about the TLS the mux already terminated, so that
// the authorizer sees a verified client certificate in the peer's AuthInfo.
type muxTLSCreds struct{}

// ServerHandshake implements credentials.TransportCredentials.
func (muxTLSCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	st, ok := raftnet.ConnTLSState(conn)
	if !ok {
		return nil, nil, errors.New("server: connection is not TLS")
	}
	return conn, credentials.TLSInfo{State: st, CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}, nil
}

// ClientHandshake implements credentials.TransportCredentials; these
// credentials are for the server side only.
func (muxTLSCreds) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("server: mux TLS credentials are server-side only")
}

// Info implements credentials.TransportCredentials.
func (muxTLSCreds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "tls", SecurityVersion: "1.2"}
}

// Clone implements credentials.TransportCredentials.
func (muxTLSCreds) Clone() credentials.TransportCredentials { return muxTLSCreds{} }

// OverrideServerName implements credentials.TransportCredentials.
func (muxTLSCreds) OverrideServerName(string) error { return nil }
