package replica

import (
	"archive/tar"
	"bytes"
	"testing"
)

func writeTar(t *testing.T, buf *bytes.Buffer, name, content string) {
	t.Helper()
	tw := tar.NewWriter(buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(content))
	tw.Close()
}
