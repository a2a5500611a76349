package tandempb

// ReasonDupCycle marks a duplication refused because it would close a
// cycle (chains, issue 13): the table already reaches, through its
// duplications and theirs, the cluster that asked to become its source.
const ReasonDupCycle = "DUP_CYCLE"
