// Package credflags gives tandem-shell, tandem-verify and tandem-bench the
// same credential flags: --tls-ca, --tls-cert, --tls-key and --token (or
// the TANDEM_TOKEN environment variable, which keeps the token out of ps).
package credflags

import (
	"flag"
	"os"

	"github.com/tandem-kv/tandem/client"
)

// EnvToken is the environment variable read when no token flag is given.
const EnvToken = "TANDEM_TOKEN"

// Flags are the credentials for one cluster.
type Flags struct {
	CA, Cert, Key, Token string
}

// Register adds the flags to fs with names prefixed by prefix ("" or e.g.
// "target-"); whose says whose credentials they are in the help text.
func (f *Flags) Register(fs *flag.FlagSet, prefix, whose string) {
	fs.StringVar(&f.CA, prefix+"tls-ca", "", "PEM CA certificate that signed the nodes' certificates of "+whose+": connect with TLS")
	fs.StringVar(&f.Cert, prefix+"tls-cert", "", "PEM client certificate for "+whose+" (with --"+prefix+"tls-key); one signed by the cluster CA acts as admin")
	fs.StringVar(&f.Key, prefix+"tls-key", "", "PEM private key of --"+prefix+"tls-cert")
	fs.StringVar(&f.Token, prefix+"token", "", "bearer token for "+whose+" (default $"+EnvToken+")")
}

// Over returns f with every empty field taken from base, for per-cluster
// overrides of a shared set.
func (f Flags) Over(base Flags) Flags {
	pick := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	return Flags{CA: pick(f.CA, base.CA), Cert: pick(f.Cert, base.Cert), Key: pick(f.Key, base.Key), Token: pick(f.Token, base.Token)}
}

// Apply sets cfg.TLS (when any TLS flag is given) and cfg.Token (the flag,
// else $TANDEM_TOKEN).
func (f Flags) Apply(cfg *client.Config) error {
	cfg.Token = f.Token
	if cfg.Token == "" {
		cfg.Token = os.Getenv(EnvToken)
	}
	if f.CA == "" && f.Cert == "" && f.Key == "" {
		return nil
	}
	tlsCfg, err := client.LoadTLS(f.Cert, f.Key, f.CA)
	if err != nil {
		return err
	}
	cfg.TLS = tlsCfg
	return nil
}
