package raftnet

import (
	"bufio"
	"bytes"
	"reflect"
	"testing"

	"github.com/hashicorp/raft"
)

// FuzzHeartbeatFrame: heartbeat frames come from other nodes. Any bytes
// read as a frame and decoded as a request or a reply either fail or
// decode to entries that encode and decode back to themselves; nothing
// panics or allocates past the bounds.
func FuzzHeartbeatFrame(f *testing.F) {
	f.Add(appendRequestFrame(nil, []hbRequest{{group: 1, req: *heartbeatReq()}}))
	f.Add(appendRequestFrame(nil, []hbRequest{{group: 2, req: raft.AppendEntriesRequest{Term: 9, Leader: []byte("l")}}, {group: 3}}))
	f.Add(appendReplyFrame(nil, []hbReply{{resp: raft.AppendEntriesResponse{Term: 3, LastLog: 7, Success: true}}, {err: "raft group 2 is not open on this node"}}))
	f.Add(appendReplyFrame(nil, nil))
	f.Add([]byte{0, 0, 0, 3, hbFrameVersion, hbKindRequest, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		body, err := readHeartbeatFrame(bufio.NewReader(bytes.NewReader(b)), nil)
		if err != nil {
			return
		}
		if reqs, err := decodeRequestFrame(body); err == nil {
			again, err := decodeRequestFrame(appendRequestFrame(nil, reqs)[4:])
			if err != nil || !reflect.DeepEqual(again, reqs) {
				t.Fatalf("request frame does not round-trip: %+v -> %+v, %v", reqs, again, err)
			}
		}
		if replies, err := decodeReplyFrame(body); err == nil {
			again, err := decodeReplyFrame(appendReplyFrame(nil, replies)[4:])
			if err != nil || !reflect.DeepEqual(again, replies) {
				t.Fatalf("reply frame does not round-trip: %+v -> %+v, %v", replies, again, err)
			}
		}
	})
}
