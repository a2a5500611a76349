package lenprefix

import (
	"bytes"
	"errors"
	"testing"
)

var errBad = errors.New("bad")

func TestRoundTripAndRefusals(t *testing.T) {
	buf := Append(Append(nil, []byte("abc")), nil)
	v, rest, err := Read(buf, errBad)
	if err != nil || string(v) != "abc" {
		t.Fatalf("first: %q %v", v, err)
	}
	if cap(v) != 3 {
		t.Fatalf("cap %d: appending to v would overwrite the next string", cap(v))
	}
	v, rest, err = Read(rest, errBad)
	if err != nil || v != nil || len(rest) != 0 {
		t.Fatalf("second: %q %q %v", v, rest, err)
	}
	for name, b := range map[string][]byte{"empty": nil, "short": {5, 'a'}, "bad varint": bytes.Repeat([]byte{0xff}, 11)} {
		if _, _, err := Read(b, errBad); !errors.Is(err, errBad) {
			t.Errorf("%s: %v, want the caller's sentinel", name, err)
		}
	}
}
