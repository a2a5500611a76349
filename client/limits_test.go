package client

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// gRPC's refusals of an oversized message, on either side, become
// ErrMessageTooLarge naming the limit; other ResourceExhausted answers do
// not.
func TestOversizedMessageMapsToErrMessageTooLarge(t *testing.T) {
	for _, msg := range []string{
		"grpc: received message larger than max (88080384 vs. 83886080)",
		"grpc: trying to send message larger than max (88080384 vs. 83886080)",
	} {
		err := mapError(status.Error(codes.ResourceExhausted, msg), ErrTableNotFound)
		if !errors.Is(err, ErrMessageTooLarge) || !strings.Contains(err.Error(), "83886080 bytes (client.MaxMessageBytes)") || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q mapped to %v", msg, err)
		}
		if !writeRefused(status.Error(codes.ResourceExhausted, msg)) {
			t.Errorf("%q: a write refused for its size is not reported as refused", msg)
		}
	}
	if err := mapError(status.Error(codes.ResourceExhausted, "reply budget spent"), ErrTableNotFound); errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("another ResourceExhausted mapped to %v", err)
	}
}
