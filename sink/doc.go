// Package sink delivers a Kinesis stream to S3 or to a local directory, the job teams
// otherwise pay Amazon Data Firehose for, as a consumer.RecordProcessor: it scales with
// the consumer's lease table, over any number of workers.
//
//	archive := sink.New(sink.NewS3(s3.NewFromConfig(cfg), "my-bucket"), func(o *sink.Options) {
//		o.StreamName = "my-stream"
//		o.Prefix = "trades/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
//		o.Compression = sink.CompressionGzip
//	})
//	c, _ := consumer.New(kinesis.NewFromConfig(cfg), "my-stream", store, archive)
//	err := c.Run(ctx)
//
// # Objects
//
// Each shard's records are buffered in partitions, one per distinct value of the
// partition keys in the Prefix, and written as one object per partition: the records'
// data, each followed by the Delimiter (newline by default: JSON lines), or Parquet with
// package sink/parquet, compressed with gzip or zstd if asked. An object is named
//
//	<evaluated Prefix><stream>-<shard>-<first sequence number>-<last sequence number>.json[.gz|.zst]
//
// where a record inside a KPL-aggregated record adds ".<subsequence number>" to its
// sequence number. The Prefix uses Firehose's syntax and namespaces (see
// Options.Prefix): !{timestamp:yyyy/MM/dd} is evaluated with the arrival time of the
// object's first record in UTC; !{partitionKeyFromQuery:k} takes k from a JSON field
// of the record; !{partitionKeyFromLambda:k} from a Go function. Records that a
// Transform rejects, whose keys cannot be extracted or that the Format cannot encode go
// to the ErrorOutputPrefix as ErrorRecord lines; they are delivered, not dropped.
//
// # Batches and buffering
//
// All the records a shard received since its last checkpoint form its batch. The batch
// is written, every partition at once, when one partition holds BufferSize bytes, when
// the batch holds MaxBufferedBytes, or BufferInterval after its first record came in; so
// a record waits at most BufferInterval plus the time to write (Firehose may take 1.5
// times its interval). Only then, after every object of the batch is durable, is the
// shard checkpointed at the batch's last record. Unlike Firehose there are no caps on
// the buffer size, the interval or the number of partitions; memory per shard is about
// MaxBufferedBytes plus the consumer's prefetched batches. With many partitions per
// shard, the busiest one decides when the batch is written and the others' objects are
// smaller.
//
// # No duplicate objects
//
// Firehose delivers at least once and names objects with the time and a random id, so a
// retried delivery leaves duplicate objects. Here an object's name and content follow
// from the records it holds, and a restarted shard (after a crash, kill -9, a lost
// lease) writes the same objects again: each batch starts after a checkpoint, and before
// its first object is written the sink records where the batch ends in a small state
// object per shard (under StatePrefix). A worker that resumes the shard from that
// checkpoint ends its batch at the same record, so it rewrites the same names with the
// same bytes, replacing whatever was written before; a worker that resumes from a later
// checkpoint starts after everything already written. Every record therefore appears in
// exactly one object, as long as Transform, PartitionKeyFunc and the Format are
// deterministic.
//
// A lease can also move from a worker that is still running (a steal by the balancer, a
// worker paused for longer than FailoverTime): both may then work on the same batch for
// up to FailoverTime/3. Each reads the state object before it writes a batch, follows a
// cut the other recorded, and stops (ErrLeaseLost) when the other already checkpointed
// past it; the state object is replaced only if it did not change since it was read
// (S3's conditional writes, If-Match and If-None-Match; a flock for a directory, shared
// by the processes of one machine), so the two can never record different cuts. A
// custom Destination without ConditionalDestination leaves a window of a few
// milliseconds there.
//
// # Durability and failures
//
// NewDir writes each file to a temporary name, fsyncs it, renames it into place and
// fsyncs the directory. NewS3 uploads with the SDK's upload manager (PutObject, or a
// multipart upload for large objects); an S3 object exists only once complete. A
// failed write (a 5xx, a timeout after WriteTimeout, a full disk) is retried with a
// jittered exponential backoff up to MaxRetryBackoff, for as long as it takes: records
// are never dropped, the shard waits (ProcessRecords does not return), and the consumer
// stops reading it, so memory stays bounded. On a graceful shutdown the batch is written
// before the lease is released; on a lost lease it is dropped and the new owner reads it
// again from the checkpoint.
//
// # Observability
//
// Logs go to Options.Logger (slog.Default() by default) with the attributes stream and
// shard. Metrics go through Options.MeterProvider (OpenTelemetry, no-op by default),
// scope "github.com/kinesis-go/kinesis/sink", with the attributes stream and shard:
//
//	sink.ObjectsWritten    counter  objects written, error output included
//	sink.BytesWritten      counter  bytes written, after compression
//	sink.RecordsDelivered  counter  records written under Prefix
//	sink.RecordsFailed     counter  records written to the error output
//	sink.WriteRetries      counter  failed attempts of a write or checkpoint, retried
package sink
