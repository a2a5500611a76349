package server

import (
	"errors"
	"testing"
)

func TestPeerAddressesResolvesFromPeers(t *testing.T) {
	p := peerAddresses{{ID: "n1", Addr: "127.0.0.1:1"}, {ID: "n2", Addr: "127.0.0.1:2"}}
	if a, err := p.ServerAddr("n2"); err != nil || a != "127.0.0.1:2" {
		t.Fatalf("ServerAddr(n2) = %q, %v", a, err)
	}
	if _, err := p.ServerAddr("n9"); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("ServerAddr(n9) error %v, want ErrUnknownPeer", err)
	}
}
