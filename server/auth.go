package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// Role is what a caller may do. Each role includes the ones below it:
// admin > write > read.
type Role uint8

// The roles, weakest first. RoleNone is a caller without valid credentials.
const (
	RoleNone Role = iota
	RoleRead
	RoleWrite
	RoleAdmin
)

// String is the role's name as written in a tokens file.
func (r Role) String() string {
	switch r {
	case RoleRead:
		return "read"
	case RoleWrite:
		return "write"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// ParseRole parses "read", "write" or "admin".
func ParseRole(s string) (Role, bool) {
	for _, r := range []Role{RoleRead, RoleWrite, RoleAdmin} {
		if s == r.String() {
			return r, true
		}
	}
	return RoleNone, false
}

// methodRoles is the role each gRPC method needs; RoleNone means no
// credentials at all. A method missing here needs admin (deny by default); a test checks that every method of the
// generated services is listed, so a new one gets a deliberate role.
var methodRoles = map[string]Role{
	tpb.KV_Get_FullMethodName:        RoleRead,
	tpb.KV_MultiGet_FullMethodName:   RoleRead,
	tpb.KV_Scan_FullMethodName:       RoleRead,
	tpb.KV_Count_FullMethodName:      RoleRead,
	tpb.KV_BatchGet_FullMethodName:   RoleRead,
	tpb.KV_Set_FullMethodName:        RoleWrite,
	tpb.KV_Del_FullMethodName:        RoleWrite,
	tpb.KV_MultiSet_FullMethodName:   RoleWrite,
	tpb.KV_BatchWrite_FullMethodName: RoleWrite,

	tpb.Admin_Nodes_FullMethodName:                 RoleRead,
	tpb.Admin_ListTables_FullMethodName:            RoleRead,
	tpb.Admin_Partitions_FullMethodName:            RoleRead,
	tpb.Admin_Route_FullMethodName:                 RoleRead,
	tpb.Admin_GetConfig_FullMethodName:             RoleRead,
	tpb.Admin_LocalReplicas_FullMethodName:         RoleRead,
	tpb.Admin_LocalChecksum_FullMethodName:         RoleRead,
	tpb.Admin_ListCheckpoints_FullMethodName:       RoleRead,
	tpb.Admin_LocalCheckpoints_FullMethodName:      RoleRead,
	tpb.Admin_ListDuplications_FullMethodName:      RoleRead,
	tpb.Admin_ShowDuplication_FullMethodName:       RoleRead,
	tpb.Admin_LocalDupStatus_FullMethodName:        RoleRead,
	tpb.Admin_CreateTable_FullMethodName:           RoleAdmin,
	tpb.Admin_DropTable_FullMethodName:             RoleAdmin,
	tpb.Admin_SetConfig_FullMethodName:             RoleAdmin,
	tpb.Admin_CreateCheckpoint_FullMethodName:      RoleAdmin,
	tpb.Admin_LocalCreateCheckpoint_FullMethodName: RoleAdmin,
	tpb.Admin_AddDuplication_FullMethodName:        RoleAdmin,
	tpb.Admin_PauseDuplication_FullMethodName:      RoleAdmin,
	tpb.Admin_StartDuplication_FullMethodName:      RoleAdmin,
	tpb.Admin_RemoveDuplication_FullMethodName:     RoleAdmin,
	tpb.Admin_CreateFollowerTable_FullMethodName:   RoleAdmin,
	tpb.Admin_DetachFollower_FullMethodName:        RoleAdmin,
	// Disaster recovery (switchover, promote): operator commands and the
	// calls between the clusters, which carry the duplication's credentials.
	tpb.Admin_SwitchoverDuplication_FullMethodName: RoleAdmin,
	tpb.Admin_AcceptSwitchover_FullMethodName:      RoleAdmin,
	tpb.Admin_DupPartitionStep_FullMethodName:      RoleAdmin,
	tpb.Admin_PromoteFollower_FullMethodName:       RoleAdmin,
	tpb.Admin_CheckFollower_FullMethodName:         RoleAdmin,
	tpb.Admin_ResyncDuplication_FullMethodName:     RoleAdmin,
	tpb.Admin_AcceptResync_FullMethodName:          RoleAdmin,

	// Membership: nodes call JoinCluster and NodeHeartbeat on each other
	// (cluster identity, role admin); drain, rm and rebalance are operators'.
	tpb.Admin_JoinCluster_FullMethodName:    RoleAdmin,
	tpb.Admin_NodeHeartbeat_FullMethodName:  RoleAdmin,
	tpb.Admin_DrainNode_FullMethodName:      RoleAdmin,
	tpb.Admin_RemoveNode_FullMethodName:     RoleAdmin,
	tpb.Admin_Rebalance_FullMethodName:      RoleRead,
	tpb.Admin_MoveStep_FullMethodName:       RoleAdmin,
	tpb.Admin_TransferLeader_FullMethodName: RoleAdmin,

	// Cluster to cluster; a Pull's confirmations hold the source's log back.
	tpb.Duplication_Prepare_FullMethodName:   RoleAdmin,
	tpb.Duplication_FetchFile_FullMethodName: RoleAdmin,
	tpb.Duplication_Pull_FullMethodName:      RoleAdmin,
	// Between the nodes of one cluster: a puller reusing a peer's base files.
	tpb.Duplication_FetchPeerFile_FullMethodName: RoleAdmin,

	// Load balancers and Kubernetes probes ask without credentials; the
	// answer says only whether the node serves (grpcops.go).
	healthpb.Health_Check_FullMethodName: RoleNone,
	healthpb.Health_List_FullMethodName:  RoleNone,
	healthpb.Health_Watch_FullMethodName: RoleNone,
	// Reflection describes the API, no data: any valid token.
	reflectionv1.ServerReflection_ServerReflectionInfo_FullMethodName:      RoleRead,
	reflectionv1alpha.ServerReflection_ServerReflectionInfo_FullMethodName: RoleRead,
}

// methodRole is the role method needs.
func methodRole(method string) Role {
	if r, ok := methodRoles[method]; ok {
		return r
	}
	return RoleAdmin
}

// Tokens is the set of bearer tokens a node accepts, each with its role.
// Only SHA-256 digests are kept, compared in constant time.
type Tokens struct {
	digests [][sha256.Size]byte
	roles   []Role
}

// tokenEqual compares two digests in constant time (a variable so that a
// test can check every entry is compared).
var tokenEqual = subtle.ConstantTimeCompare

// ParseTokens reads a tokens file: one `ROLE TOKEN` per line, ROLE one of
// read, write or admin; blank lines and lines starting with # are ignored.
// Errors name the line, never the token.
func ParseTokens(r io.Reader) (*Tokens, error) {
	t := &Tokens{}
	firstLine := map[[sha256.Size]byte]int{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 {
			return nil, fmt.Errorf("%w: line %d: want ROLE TOKEN", ErrBadTokenFile, line)
		}
		role, ok := ParseRole(fields[0])
		if !ok {
			return nil, fmt.Errorf("%w: line %d: unknown role (the first word must be read, write or admin)", ErrBadTokenFile, line)
		}
		d := sha256.Sum256([]byte(fields[1]))
		if prev, dup := firstLine[d]; dup {
			return nil, fmt.Errorf("%w: line %d: the token of line %d again", ErrBadTokenFile, line, prev)
		}
		firstLine[d] = line
		t.digests = append(t.digests, d)
		t.roles = append(t.roles, role)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTokenFile, err)
	}
	if len(t.digests) == 0 {
		return nil, fmt.Errorf("%w: no tokens", ErrBadTokenFile)
	}
	return t, nil
}

// LoadTokens reads the tokens file at path (see ParseTokens).
func LoadTokens(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTokenFile, err)
	}
	defer f.Close()
	t, err := ParseTokens(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Lookup returns token's role. It compares against every entry whatever
// matches, so its time does not say which token (or how much of one) is
// right.
func (t *Tokens) Lookup(token string) (Role, bool) {
	d := sha256.Sum256([]byte(token))
	role := RoleNone
	for i := range t.digests {
		if tokenEqual(d[:], t.digests[i][:]) == 1 {
			role = t.roles[i]
		}
	}
	return role, role != RoleNone
}

// authorizer checks every gRPC call's credentials against the role its
// method needs: a client certificate verified against the cluster CA is a
// cluster identity (admin); otherwise the `authorization: Bearer TOKEN`
// metadata must name a known token.
type authorizer struct {
	tokens *Tokens
}

// authorize returns nil when the caller of ctx may call method, else an
// Unauthenticated or PermissionDenied status.
func (a *authorizer) authorize(ctx context.Context, method string) error {
	need := methodRole(method)
	if need == RoleNone {
		return nil
	}
	have, via := a.callerRole(ctx)
	if have == RoleNone {
		return status.Error(codes.Unauthenticated, "missing or invalid bearer token")
	}
	if have < need {
		return status.Errorf(codes.PermissionDenied, "%s needs role %s; the %s has role %s", method, need, via, have)
	}
	return nil
}

// callerRole returns the caller's role and what granted it.
func (a *authorizer) callerRole(ctx context.Context) (Role, string) {
	if p, ok := peer.FromContext(ctx); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.VerifiedChains) > 0 {
			return RoleAdmin, "client certificate"
		}
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		scheme, token, ok := strings.Cut(v, " ")
		if !ok || !strings.EqualFold(scheme, "bearer") {
			continue
		}
		if role, ok := a.tokens.Lookup(strings.TrimSpace(token)); ok {
			return role, "token"
		}
	}
	return RoleNone, ""
}

func (a *authorizer) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := a.authorize(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (a *authorizer) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := a.authorize(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return h(srv, ss)
}

// bearerToken is the credential a node presents on its outgoing calls.
// It does not require transport security: without TLS, auth is a
// development setup the node warns about.
type bearerToken string

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (bearerToken) RequireTransportSecurity() bool { return false }
