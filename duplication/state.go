package duplication

import (
	"strings"

	tpb "github.com/tandem-kv/tandem/proto/tandempb"
)

// State is a duplication's state as the source cluster's metadata records
// it. Its value is the name the metadata (JSON) and the wire's string
// fields carry; Proto gives the wire enum.
type State string

// Duplication states.
const (
	// StateAdding: recorded; the remote has not confirmed its follower
	// table yet. A failed add removes the record again.
	StateAdding State = "adding"
	// StateActive: the remote pulls.
	StateActive State = "active"
	// StatePaused: pulls get no entries; the source keeps its log within
	// the retention cap.
	StatePaused State = "paused"
	// StateSwitching: dup switchover fenced the source table (client
	// writes are refused, naming the remote); the remote catches up to the
	// fence and becomes the primary, then the record is removed.
	StateSwitching State = "switching"
	// StateFailedOver: dup promote made the remote's follower table
	// writable while the source was lost (the remote shows it).
	StateFailedOver State = "failed_over"
	// StateRemoved: gone from the metadata; every node releases the
	// duplication's floors and base pins.
	StateRemoved State = "removed"
)

var stateEnums = map[State]tpb.DuplicationState{
	StateAdding:     tpb.DuplicationState_DUPLICATION_STATE_ADDING,
	StateActive:     tpb.DuplicationState_DUPLICATION_STATE_ACTIVE,
	StatePaused:     tpb.DuplicationState_DUPLICATION_STATE_PAUSED,
	StateRemoved:    tpb.DuplicationState_DUPLICATION_STATE_REMOVED,
	StateSwitching:  tpb.DuplicationState_DUPLICATION_STATE_SWITCHING,
	StateFailedOver: tpb.DuplicationState_DUPLICATION_STATE_FAILED_OVER,
}

// Proto returns s as the wire enum (UNSPECIFIED for a state this version
// does not know).
func (s State) Proto() tpb.DuplicationState { return stateEnums[s] }

// PartitionState is one partition's duplication progress: the puller's
// phase as the remote reports it, or what the source knows without a
// report. Its value is the name the wire's string fields carry.
type PartitionState string

// Partition states, in the order a partition goes through them.
const (
	// PartitionInit: the source has no report from the remote yet (just
	// added, or a new source leader).
	PartitionInit PartitionState = "INIT"
	// PartitionPrepare: the source leader takes the base checkpoint.
	PartitionPrepare PartitionState = "PREPARE"
	// PartitionApp: the remote pulls the base's files and installs them.
	PartitionApp PartitionState = "APP"
	// PartitionLog: the remote pulls the log from the base decree on.
	PartitionLog PartitionState = "LOG"
	// PartitionPaused: the duplication is paused.
	PartitionPaused PartitionState = "PAUSED"
	// PartitionUnknown: no source leader answered for the partition.
	PartitionUnknown PartitionState = "UNKNOWN"
)

var partitionEnums = map[PartitionState]tpb.DupPartitionState{
	PartitionInit:    tpb.DupPartitionState_DUP_PARTITION_STATE_INIT,
	PartitionPrepare: tpb.DupPartitionState_DUP_PARTITION_STATE_PREPARE,
	PartitionApp:     tpb.DupPartitionState_DUP_PARTITION_STATE_APP,
	PartitionLog:     tpb.DupPartitionState_DUP_PARTITION_STATE_LOG,
	PartitionPaused:  tpb.DupPartitionState_DUP_PARTITION_STATE_PAUSED,
	PartitionUnknown: tpb.DupPartitionState_DUP_PARTITION_STATE_UNKNOWN,
}

// Proto returns s as the wire enum (UNSPECIFIED for a state this version
// does not know).
func (s PartitionState) Proto() tpb.DupPartitionState { return partitionEnums[s] }

// partitionStateOf reads a remote's report: the enum when the remote sends
// it, else the string an older remote sends.
func partitionStateOf(rep *tpb.FollowerReport) PartitionState {
	if c := rep.GetStateCode(); c != tpb.DupPartitionState_DUP_PARTITION_STATE_UNSPECIFIED {
		return PartitionState(strings.TrimPrefix(c.String(), "DUP_PARTITION_STATE_"))
	}
	return PartitionState(rep.GetState())
}

// setPartitionState sets both state fields of st.
func setPartitionState(st *tpb.DupPartitionStatus, s PartitionState) {
	st.State, st.StateCode = string(s), s.Proto()
}
