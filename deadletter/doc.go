// Package deadletter is a ready dead-letter destination for package consumer: records
// the consumer's failure policy gives up (Options.MaxRetries, Options.MaxRecordAge) are
// written to another Kinesis stream through package producer, each as a JSON Envelope
// holding the original data, keys and coordinates and why it failed; Replay puts them
// back into the original stream once the cause is fixed.
//
//	dlq, _ := producer.New(kinesisClient, "orders-dlq")
//	c, _ := consumer.New(kinesisClient, "orders", store, newProcessor, func(o *consumer.Options) {
//		o.BisectOnError = true
//		o.MaxRetries = 3
//		o.OnFailure = deadletter.New(dlq)
//	})
//
// and later, to replay (a consumer of the dead-letter stream, with its own lease table):
//
//	orders, _ := producer.New(kinesisClient, "orders")
//	r, _ := consumer.New(kinesisClient, "orders-dlq", replayStore,
//		consumer.NewRecordFunc(deadletter.Replay(orders, nil)),
//		func(o *consumer.Options) { o.InitialPosition = consumer.InitialPositionTrimHorizon })
//
// Unlike a Lambda failure destination, which receives only the sequence range of a failed
// batch (the records must then be read from the source stream before they expire), an
// envelope carries the record itself: the dead-letter stream's retention, not the
// source's, bounds how long a failure can wait for its fix.
//
// Guarantees: a given-up record is handed over at least once. The consumer waits (the
// shard does not move) until the envelope is written, and a record whose give-up no
// checkpoint covered yet is handed over again after a crash or failover, so the
// dead-letter stream may hold a record twice; Envelope.ShardID, SequenceNumber and
// SubSequenceNumber identify duplicates. Replay is at least once too.
//
// This package depends on both consumer and producer, so that package consumer does not
// depend on package producer.
package deadletter
