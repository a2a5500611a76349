package checkpoint

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzDecodeManifest: manifests come from disk and from other clusters;
// an accepted one never names a path outside its directory.
func FuzzDecodeManifest(f *testing.F) {
	good, _ := json.Marshal(&Manifest{Version: manifestVersion, ID: "ckpt-1", Files: []FileInfo{{Name: "000001.sst", Size: 3}}, TotalBytes: 3})
	f.Add(good)
	f.Add([]byte(`{"version":1,"id":"x","files":[{"name":"../etc/passwd","size":1}],"total_bytes":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeManifest(b)
		if err != nil {
			return
		}
		for _, name := range append([]string{m.ID}, fileNames(m)...) {
			if name == "" || name[0] == '.' || containsSlash(name) {
				t.Fatalf("accepted name %q", name)
			}
		}
	})
}

func fileNames(m *Manifest) []string {
	var out []string
	for _, f := range m.Files {
		out = append(out, f.Name)
	}
	return out
}

// Regression (found by FuzzDecodeManifest): "/" is its own filepath.Base.
func TestManifestRefusesNamesThatAreNotPlain(t *testing.T) {
	for _, b := range []string{
		`{"version":1,"id":"0","files":[{"name":"/"}]}`,
		`{"version":1,"id":"0","files":[{"name":"a\\b"}]}`,
		`{"version":1,"id":"../up","files":[]}`,
		`{"version":1,"id":"a/b","files":[]}`,
	} {
		if _, err := DecodeManifest([]byte(b)); !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodeManifest(%s) = %v, want ErrInvalid", b, err)
		}
	}
}

func containsSlash(s string) bool {
	for _, c := range s {
		if c == '/' || c == '\\' {
			return true
		}
	}
	return false
}
