package tandempb

// Reasons of the ErrorInfo details the archive's answers carry, so clients
// tell them apart from other answers with the same code.
const (
	// ReasonPointUnreachable marks a restore point the archive cannot
	// reach (OutOfRange); the message names the nearest reachable one.
	ReasonPointUnreachable = "ARCHIVE_POINT_UNREACHABLE"
	// ReasonArchiveCorrupt marks an archived object that failed its
	// checksum (DataLoss); nothing of it was installed.
	ReasonArchiveCorrupt = "ARCHIVE_CORRUPT"
	// ReasonArchiveNotFound marks a table without an archive, or an
	// archive URL that holds nothing of the table (NotFound).
	ReasonArchiveNotFound = "ARCHIVE_NOT_FOUND"
	// ReasonArchiveUnavailable marks an object store that did not answer
	// (Unavailable).
	ReasonArchiveUnavailable = "ARCHIVE_STORE_UNAVAILABLE"
)
