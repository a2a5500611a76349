package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/tandem-kv/tandem/server"
)

// securityFlags are the TLS and auth flags of tandem-server.
type securityFlags struct {
	cert, key, ca string
	tokens        string
	tokenFile     string
}

func (f *securityFlags) register(fs *flag.FlagSet) {
	fs.Var(&filePath{&f.cert}, "tls-cert", "PEM certificate of this node: TLS on the RPC port (gRPC and raft), and the node's client certificate on its outgoing calls (with --tls-key and --tls-ca)")
	fs.Var(&filePath{&f.key}, "tls-key", "PEM private key of --tls-cert")
	fs.Var(&filePath{&f.ca}, "tls-ca", "PEM CA certificate(s) that signed the nodes' certificates, of this cluster and of clusters it duplicates with; a client certificate it signed is a cluster identity (role admin)")
	fs.Var(&filePath{&f.tokens}, "auth-tokens", "file of 'ROLE TOKEN' lines (read, write, admin): every call then needs a token of the file or a client certificate signed by --tls-ca")
	fs.Var(&filePath{&f.tokenFile}, "auth-token-file", "file holding the token this node presents on its calls to peers and remote clusters (needed, with role admin, for --auth-tokens without TLS)")
}

// apply loads the files the flags name into cfg.
func (f *securityFlags) apply(cfg *server.Config) error {
	var err error
	if cfg.TLS, err = server.LoadTLSIdentity(f.cert, f.key, f.ca); err != nil {
		return err
	}
	if f.tokens != "" {
		if cfg.AuthTokens, err = server.LoadTokens(f.tokens); err != nil {
			return err
		}
	}
	if f.tokenFile != "" {
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return fmt.Errorf("--auth-token-file: %w", err)
		}
		cfg.AuthToken = strings.TrimSpace(string(b))
		if cfg.AuthToken == "" || strings.ContainsAny(cfg.AuthToken, " \t\r\n") {
			return fmt.Errorf("--auth-token-file %s: want one token and nothing else", f.tokenFile)
		}
	}
	return nil
}
