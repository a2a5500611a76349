package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/tandem-kv/tandem/client"
	tpb "github.com/tandem-kv/tandem/proto/tandempb"
	"github.com/tandem-kv/tandem/server"
	"github.com/tandem-kv/tandem/server/servertest"
)

// healthServices are the names grpc.health.v1 answers for: the node and
// each Tandem service.
var healthServices = []string{"", "tandem.v1.KV", "tandem.v1.Admin", "tandem.v1.Duplication"}

func dialPlain(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func healthOf(t *testing.T, conn *grpc.ClientConn, service string) (healthpb.HealthCheckResponse_ServingStatus, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return healthpb.HealthCheckResponse_UNKNOWN, err
	}
	return resp.Status, nil
}

// A node answers grpc.health.v1 for itself and each service: NOT_SERVING
// while it cannot serve (here: alone of three, its meta group has no
// leader), SERVING once it is ready; an unknown service is NotFound.
func TestHealthFollowsReadiness(t *testing.T) {
	c := servertest.MakeCluster(t, 3)
	for i := range c.Nodes {
		c.Stop(i)
	}
	c.Start(0)
	if c.Nodes[0].Ready() {
		t.Fatal("a lone node of three is ready")
	}
	conn := dialPlain(t, c.Config(0).Addr)
	for _, s := range healthServices {
		st, err := healthOf(t, conn, s)
		if err != nil || st != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("health of %q on a node that is not ready: %v %v, want NOT_SERVING", s, st, err)
		}
	}
	if _, err := healthOf(t, conn, "tandem.v1.Nope"); status.Code(err) != codes.NotFound {
		t.Fatalf("health of an unknown service: %v, want NotFound", err)
	}
	c.Start(1)
	c.Start(2)
	c.WaitReady()
	for _, s := range healthServices {
		servertest.WaitFor(t, 10*time.Second, "node 0 reports "+s+" SERVING", func() bool {
			st, err := healthOf(t, conn, s)
			return err == nil && st == healthpb.HealthCheckResponse_SERVING
		})
	}
}

// Reflection lists every service, so grpcurl list and describe work.
func TestReflectionListsServices(t *testing.T) {
	c := servertest.MakeCluster(t, 1)
	got := listServices(t, dialPlain(t, c.Config(0).Addr))
	for _, want := range append(healthServices[1:], "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection") {
		if !strings.Contains(got, want+"\n") {
			t.Fatalf("reflection lists\n%s\nwithout %s", got, want)
		}
	}
}

// listServices asks reflection for the service names, one a line, or
// returns the error's text.
func listServices(t *testing.T, conn *grpc.ClientConn, opts ...grpc.CallOption) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx, opts...)
	if err != nil {
		return err.Error()
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		return err.Error()
	}
	resp, err := stream.Recv()
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, s := range resp.GetListServicesResponse().GetService() {
		b.WriteString(s.Name + "\n")
	}
	return b.String()
}

// With tokens required, health needs no credentials (probes have none)
// while reflection needs a valid token like any read.
func TestHealthIsOpenReflectionNeedsAToken(t *testing.T) {
	tokens, err := server.ParseTokens(strings.NewReader("admin cluster-secret\nread reader-secret\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := servertest.MakeCluster(t, 1, servertest.WithAuth(tokens, "cluster-secret"))
	conn := dialPlain(t, c.Config(0).Addr)
	if st, err := healthOf(t, conn, "tandem.v1.KV"); err != nil || st != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health without a token: %v %v, want SERVING", st, err)
	}
	if got := listServices(t, conn); !strings.Contains(got, "Unauthenticated") {
		t.Fatalf("reflection without a token: %q, want Unauthenticated", got)
	}
	read := grpc.PerRPCCredsCallOption{Creds: bearer("reader-secret")}
	if got := listServices(t, conn, read); !strings.Contains(got, "tandem.v1.KV\n") {
		t.Fatalf("reflection with a read token: %q", got)
	}
}

type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

// A node accepts keepalive pings every 5s on an idle connection (clients
// behind NATs and load balancers ping to keep the flow), and still sends
// GOAWAY "too_many_pings" to a client pinging far faster. gRPC's default
// policy (one ping per 5 minutes, none without calls) hung up on the SDK's
// pings after the fourth.
func TestKeepalivePingsAccepted(t *testing.T) {
	if testing.Short() {
		t.Skip("pings 5s apart for 25s")
	}
	c := servertest.MakeCluster(t, 1)
	fr, conn := rawHTTP2(t, c.Config(0).Addr)
	// gRPC answers a ping before it counts it: a GOAWAY for the fourth
	// follows the fourth's ack and is read while awaiting the fifth's.
	for i := 0; i < 6; i++ {
		if i > 0 {
			time.Sleep(5*time.Second + 100*time.Millisecond) // the pace under test, not a wait for a condition
		}
		if err := fr.WritePing(false, [8]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if err := awaitPingAck(fr, conn, byte(i)); err != nil {
			t.Fatalf("ping %d, 5s after the last: %v", i, err)
		}
	}
	for i := 0; i < 5; i++ {
		_ = fr.WritePing(false, [8]byte{byte(10 + i)})
	}
	for {
		f, err := readFrame(fr, conn)
		if err != nil {
			t.Fatalf("back-to-back pings: connection ended without GOAWAY: %v", err)
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			if !bytes.Equal(ga.DebugData(), []byte("too_many_pings")) {
				t.Fatalf("GOAWAY %q, want too_many_pings", ga.DebugData())
			}
			return
		}
	}
}

// rawHTTP2 opens a plaintext HTTP/2 connection to addr and does the
// preface and settings exchange.
func rawHTTP2(t *testing.T, addr string) (*http2.Framer, net.Conn) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return fr, conn
}

// readFrame reads the next frame, acknowledging the server's settings.
func readFrame(fr *http2.Framer, conn net.Conn) (http2.Frame, error) {
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	f, err := fr.ReadFrame()
	if err != nil {
		return nil, err
	}
	if s, ok := f.(*http2.SettingsFrame); ok && !s.IsAck() {
		return f, fr.WriteSettingsAck()
	}
	return f, nil
}

// awaitPingAck reads frames until the ack of ping id; a GOAWAY is an error.
func awaitPingAck(fr *http2.Framer, conn net.Conn, id byte) error {
	for {
		f, err := readFrame(fr, conn)
		if err != nil {
			return err
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			return errors.New("GOAWAY " + string(f.DebugData()))
		case *http2.PingFrame:
			if f.IsAck() && f.Data[0] == id {
				return nil
			}
		}
	}
}

// A message over the stated cap is refused whole: by the node with
// ResourceExhausted naming both sizes when a client sends one anyway, and
// by the SDK before sending, as client.ErrMessageTooLarge. Nothing of it
// is applied.
func TestOversizedMessageRefused(t *testing.T) {
	c := servertest.MakeCluster(t, 1)
	c.CreateTable("t", 1, 1)
	kvs := make([]*tpb.SortKeyValue, 21)
	for i := range kvs {
		kvs[i] = &tpb.SortKeyValue{SortKey: []byte{byte(i)}, Value: make([]byte, 4<<20)}
	}
	conn := dialPlain(t, c.Config(0).Addr, grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(200<<20)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := tpb.NewKVClient(conn).MultiSet(ctx, &tpb.MultiSetRequest{Table: "t", HashKey: []byte("h"), Kvs: kvs})
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "larger than max") {
		t.Fatalf("84 MiB MultiSet at the node: %v, want ResourceExhausted larger than max", err)
	}
	cl, err := client.Dial(ctx, c.Config(0).Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	tab, err := cl.Table(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	skv := make([]client.SortKeyValue, len(kvs))
	for i, kv := range kvs {
		skv[i] = client.SortKeyValue{SortKey: kv.SortKey, Value: kv.Value}
	}
	err = tab.MultiSet(ctx, []byte("h"), skv)
	if !errors.Is(err, client.ErrMessageTooLarge) || !strings.Contains(err.Error(), "83886080") {
		t.Fatalf("84 MiB MultiSet through the SDK: %v, want ErrMessageTooLarge naming the limit", err)
	}
	if _, err := tab.Get(ctx, []byte("h"), []byte{0}); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("a record of the refused MultiSet: %v, want ErrNotFound", err)
	}
	if err := tab.Set(ctx, []byte("h"), []byte{0}, []byte("small")); err != nil {
		t.Fatalf("a small write after the refusal: %v", err)
	}
}
