// Package checkpoint stores the leases and checkpoints of a Kinesis consumer: which worker
// processes each shard, and how far it got.
//
// A Store holds one Lease per shard. Every write is fenced by the lease's counter: renew,
// take, release and checkpoint succeed only if the lease's Counter (and, where it matters,
// its Owner) are still what the caller last read, and each of them increments the counter.
// A worker that lost a lease to another therefore cannot renew it or write a checkpoint to
// it: its write fails with an error matching ErrLeaseConflict and changes nothing.
//
// Two implementations are provided:
//
//   - DynamoDB (NewDynamoDB) keeps the leases in a DynamoDB table in the format of the
//     Java Kinesis Client Library 2.x, so an application can move between the KCL and this
//     library, in both directions, without losing its checkpoints.
//   - Memory (NewMemory) keeps them in process memory with the same semantics, for tests
//     and for single-process consumers that may re-read a stream after a restart.
//
// # Lease table
//
// One table per consumer application (the KCL names it after the application). Partition
// (HASH) key leaseKey of type S, no sort key, on-demand (PAY_PER_REQUEST) billing by
// default. The items have the KCL 2.x attributes, two KCL 3.x ones and one of this
// library's own:
//
//	attribute                           type  Lease field                    written
//	leaseKey                            S     Key                            always
//	leaseOwner                          S     Owner                          when owned
//	leaseCounter                        N     Counter                        always
//	checkpoint                          S     Checkpoint.SequenceNumber      when set
//	checkpointSubSequenceNumber         N     Checkpoint.SubSequenceNumber   with checkpoint
//	ownerSwitchesSinceCheckpoint        N     OwnerSwitchesSinceCheckpoint   always
//	pendingCheckpoint                   S     PendingCheckpoint              when set
//	pendingCheckpointSubSequenceNumber  N     PendingCheckpoint              with pendingCheckpoint
//	pendingCheckpointState              B     PendingCheckpointState         when set
//	parentShardId                       SS    ParentShardIDs                 when not empty
//	childShardIds                       SS    ChildShardIDs                  when not empty
//	startingHashKey                     S     StartingHashKey                when set
//	endingHashKey                       S     EndingHashKey                  when set
//	checkpointOwner                     S     CheckpointOwner                during a handoff (KCL 3.x)
//	throughputKBps                      N     ThroughputKBps                 when not 0 (KCL 3.x)
//	ownerSinceCounter                   N     OwnerSinceCounter              once moved (this library)
//
// checkpoint holds a decimal sequence number or one of TRIM_HORIZON, LATEST, AT_TIMESTAMP
// and SHARD_END. String sets are unordered: ParentShardIDs and ChildShardIDs read back
// sorted.
//
// ownerSinceCounter is the leaseCounter right after the lease last moved to another
// worker: written by a take from another owner (or from the old owner of a handoff), by
// the end of a graceful handoff and by a release (so that the take after it is a move
// too; a take of a lease that was never owned is not). A consumer does not steal a lease
// whose leaseCounter is only a few increments past it: every worker, one that has just
// started included, sees that the lease has just moved, without comparing clocks. The KCL
// ignores the attribute, and items without it (written by the KCL) count as not moved
// recently.
//
// The writes, in DynamoDB expression form (the KCL 2.x conditions):
//
//	create      PutItem     IF attribute_not_exists(leaseKey)
//	renew       UpdateItem  SET leaseCounter = :c+1                      IF leaseCounter = :c AND leaseOwner = :owner
//	take        UpdateItem  SET leaseOwner = :new, leaseCounter = :c+1
//	                        [, ownerSinceCounter = :c+1]
//	                        REMOVE checkpointOwner
//	                        [ADD ownerSwitchesSinceCheckpoint 1]        IF leaseCounter = :c
//	release     UpdateItem  SET leaseCounter = :c+1, ownerSinceCounter = :c+1
//	                        REMOVE leaseOwner, checkpointOwner          IF leaseOwner = :owner AND leaseCounter = :c
//	checkpoint  UpdateItem  SET checkpoint, checkpointSubSequenceNumber,
//	                        ownerSwitchesSinceCheckpoint = 0, leaseCounter = :c+1
//	                        REMOVE pendingCheckpoint*                   IF leaseCounter = :c AND leaseOwner = :owner
//	shard info  UpdateItem  SET childShardIds, startingHashKey, endingHashKey  IF attribute_exists(leaseKey)
//	delete      DeleteItem  (unconditional)
//
// The ADD happens when the lease was read with another, non-empty owner, as in the KCL
// (taking an unowned lease is not an owner switch); ownerSinceCounter is set when the take
// moves the lease to another worker (see Store.TakeLease). The graceful handoff's writes
// (HandoffStore) are fenced the same way: StartHandoff sets leaseOwner and
// checkpointOwner, FinishHandoff removes checkpointOwner and sets ownerSinceCounter. Updates return the stored item
// (ReturnValues ALL_NEW); reads are consistent (GetItem and every Scan page with
// ConsistentRead).
//
// # KCL compatibility
//
// A KCL 2.x application and this library can use the same table one after the other:
// migration in either direction keeps every checkpoint, including subsequence numbers of
// KPL-aggregated records. The fencing protocol is the KCL's (leaseCounter conditions,
// expiry judged by counter changes on each worker's local clock), so a stale writer of
// either kind cannot overwrite the other's checkpoints; running Java and Go workers side by
// side is not tested, though, so prefer a cut-over. Of the KCL 3.x additions this
// library reads and writes checkpointOwner (a String, set during a graceful handoff, see
// HandoffStore) and throughputKBps (a Number, the lease's smoothed throughput) in the 3.x
// names and types; a 2.x item without them is a lease with no handoff and no throughput.
// ownerSinceCounter (a Number) is this library's own; KCL workers ignore it and do not
// write it, so a lease they moved counts as settled.
// Other 3.x additions (entityType, a global secondary index, other tables) are ignored
// when reading and kept when updating (UpdateItem changes only the attributes it names).
// Only CreateLease writes whole items (PutItem, new leases only). KCL 3.x workers assign
// leases through a leader and load metrics that this library does not take part in, so do
// not run them side by side with it on one table.
//
// # Creating the table and permissions
//
// NewDynamoDB does no I/O. DynamoDB.EnsureTable (run by the first Store call, or
// explicitly at start-up) calls DescribeTable; when the table is missing it creates it
// (unless DynamoDBOptions.CreateTableIfMissing is false) and waits until it is ACTIVE. An
// existing table needs only dynamodb:DescribeTable to be used, so a process without
// dynamodb:CreateTable works with a table made by infrastructure code:
//
//	aws dynamodb create-table --table-name my-app \
//	    --attribute-definitions AttributeName=leaseKey,AttributeType=S \
//	    --key-schema AttributeName=leaseKey,KeyType=HASH --billing-mode PAY_PER_REQUEST
//
// The IAM policy a consumer needs on arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE:
// dynamodb:DescribeTable, GetItem, PutItem, UpdateItem, DeleteItem and Scan, plus
// CreateTable if the store creates the table. A denied call returns an *AccessDeniedError
// (errors.Is ErrAccessDenied) naming the action, the table and the ARN to grant it on.
//
// # Retries
//
// The DynamoDB store retries throttling (ProvisionedThroughputExceededException,
// ThrottlingException, RequestLimitExceeded), server errors (HTTP 5xx) and connection
// errors with jittered exponential backoff, up to DynamoDBOptions.MaxAttempts and never
// past the call's context. It disables the SDK's own retryer for its calls (a per-call
// option setting aws.NopRetryer), so attempts do not multiply. When an ambiguous failure
// (connection or server error) is followed by a failed condition, the store reads the
// lease back: if the first attempt had in fact applied the write, the call succeeds
// rather than reporting a false conflict. Validation errors, access denied and conflicts
// are not retried.
//
// # Request volume
//
// The store makes no calls of its own; the volume is the consumer's (package consumer,
// its Options and its "Costs" section hold the timings). With the consumer's defaults:
//
//   - each held lease is renewed every FailoverTime/3 (10 s / 3): 18 UpdateItem a minute;
//   - each worker scans the whole table every LeaseTakeInterval, which adapts to the table:
//     every 1 s up to 100 leases (60 Scans a minute), then 10 ms per lease up to
//     FailoverTime/2 (5 s, 12 Scans a minute, from 500 leases on);
//   - each worker lists the leases once more per ShardSyncInterval (60 s) in the shard
//     sync, and writes one PutItem per new shard and one DeleteItem per finished shard
//     that Kinesis no longer retains;
//   - each checkpoint is one UpdateItem, as often as the application checkpoints (after
//     every batch with consumer.NewFunc);
//   - a lease moved by balancing with a graceful handoff (HandoffStore) costs
//     StartHandoff by the new owner and FinishHandoff by the old one (two UpdateItem),
//     one consistent GetItem per 100 ms while the new owner waits for the old one to
//     finish, and a take if it does not finish within the handoff timeout.
//
// A Scan is strongly consistent and reads every item (about 300 bytes a lease): 1 read
// unit per 4 KB, about n/13 read units for n leases, one page per about 1 MB. The renew
// rate is the KCL 2.x one; the scans are more frequent than the KCL 2.x lease taker (every
// 2 × failover time, 20 s by default) so that a lease released at a graceful shutdown is
// taken within about a second. A fixed consumer.Options.LeaseTakeInterval trades that
// handover time for fewer reads.
package checkpoint
