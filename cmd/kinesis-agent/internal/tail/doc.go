// Package tail follows the files of a glob pattern and hands their records (lines,
// or multi-line records) to a Sink, tracking for each file how far its records were
// acknowledged.
//
// # Identity
//
// A file is known by its device and inode plus its first bytes (up to
// FingerprintSize), never by its name alone. Its descriptor stays open while it is
// tracked, so that:
//
//   - a file renamed (rotation by rename, logrotate's "create") is followed: if its
//     new name still matches it stays active, otherwise it is read to its end and
//     closed once quiet;
//   - a deleted file is read to its end through the open descriptor;
//   - a file truncated (copytruncate), or truncated and written again between two
//     polls, is seen by its size or its first bytes; the copy (same first bytes, in
//     the same directory) is read on from where the file was, and the file itself
//     from its start;
//   - compressed files (by name or magic number) are skipped: their lines were read
//     before they were compressed.
//
// # Positions
//
// Records are sent in batches (one per read). A file's confirmed offset moves over a
// batch only once every record of it and of the batches before it was
// acknowledged (Ack.Done(nil)); failed records are sent again after a backoff and
// hold the offset back meanwhile. Positions returns the confirmed offsets to save;
// New resumes from saved ones: a file is found at its path, or by device and inode
// in the same directory (renamed while the agent was down), or by its first bytes
// (copied and truncated while it was down).
//
// Limits: a file is known from the first poll or refresh that sees it. A file
// created, written and rotated out of the pattern between two refreshes, or whose
// first bytes are written, copied and truncated between two polls (copytruncate of
// a file the agent never saw bytes of), is not followed: its lines are read only
// if the rotated name matches the pattern. The same holds for more than one such
// rotation while the agent is stopped.
//
// A partial last line waits for its newline: sent only when complete, or, for a
// file that left the pattern, after PartialLineTimeout without growth.
package tail
