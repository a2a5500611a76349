package credflags

import (
	"errors"
	"flag"
	"io"
	"testing"

	"github.com/tandem-kv/tandem/client"
	"github.com/tandem-kv/tandem/internal/testpki"
)

func TestFlagsOverridesAndEnv(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.New(t, "ca")
	caFile := ca.WriteCert(t, dir, "ca")
	var base, target Flags
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	base.Register(fs, "", "both clusters")
	target.Register(fs, "target-", "the target")
	if err := fs.Parse([]string{"--tls-ca", caFile, "--target-token", "t2"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvToken, "from-env")

	var src, tgt client.Config
	if err := base.Apply(&src); err != nil {
		t.Fatal(err)
	}
	if err := target.Over(base).Apply(&tgt); err != nil {
		t.Fatal(err)
	}
	if src.Token != "from-env" || src.TLS == nil || src.TLS.RootCAs == nil {
		t.Fatalf("source: token %q, tls %v; want the env token and the CA", src.Token, src.TLS)
	}
	if tgt.Token != "t2" || tgt.TLS == nil {
		t.Fatalf("target: token %q, tls %v; want its own token and the shared CA", tgt.Token, tgt.TLS)
	}

	var plain client.Config
	if err := (Flags{Token: "x"}).Apply(&plain); err != nil || plain.TLS != nil || plain.Token != "x" {
		t.Fatalf("token only: %+v, %v", plain, err)
	}
	if err := (Flags{Cert: "c.crt"}).Apply(&plain); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("cert without key: %v", err)
	}
}
