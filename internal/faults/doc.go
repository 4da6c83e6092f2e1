// Package faults injects the failures that the local emulators cannot produce into
// aws-sdk-go-v2 Kinesis and DynamoDB clients, for tests only. kinesis-mock and dynalite
// never throttle, never fail a PutRecords entry, never reset a connection; an Injector,
// installed as the client's HTTP transport, does, on the calls a test selects:
//
//   - whole-call AWS errors as the SDK parses them: ProvisionedThroughputExceeded,
//     Throttling, LimitExceeded, InternalFailure (500), ServiceUnavailable (503),
//     ExpiredIterator, ResourceNotFound, AccessDenied, KMSAccessDenied, Validation, or any
//     Error(status, code, message);
//   - PutRecords partial failures inside an HTTP 200 (FailEntry, ThrottleEntry,
//     InternalFailureEntry): failed entries are not written, the others are;
//   - connection resets (ConnectionReset), and ambiguous failures that reach the emulator
//     before the client sees the error (After), which a retrying client may duplicate;
//   - latency (Delay), honouring the request context;
//   - the per-shard limits of Kinesis (Options.ShardLimits: 1,000 records/s and 1 MiB/s
//     written, 5 GetRecords/s), on an injectable clock for deterministic tests;
//   - the SubscribeToShard initial-response event that kinesis-mock omits (SubscribeShim,
//     on by default in an Injector).
//
// Wiring it into a client:
//
//	inj := faults.New(nil, func(o *faults.Options) { o.Now = clock.Now })
//	t.Cleanup(inj.CloseIdleConnections)
//	client := env.Kinesis(func(o *kinesis.Options) {
//		o.HTTPClient = inj.HTTPClient()
//		o.Retryer = aws.NopRetryer{} // see each fault exactly once
//	})
//	inj.Add(faults.Rule{Op: "GetRecords", Times: 2, Fault: faults.ProvisionedThroughputExceeded()})
//
// Rules match by service, operation, stream, shard, table or a predicate; each can be
// limited (Rule.Times), made random (Rule.Probability, seeded by Options.Seed) and
// observed (Rule.Hook). Calls and Injected count requests and injected faults per
// operation for assertions.
//
// Tips. Close the injector's idle connections when the test ends (CloseIdleConnections),
// or goleak reports the keep-alive goroutines. A client that relies on the SDK's standard
// retryer under many injected faults can run out of the retryer's retry quota (the error
// then says "retry quota exceeded"); give it retry.NewStandard with
// RateLimiter = ratelimit.None. Rule.Match, Rule.Entry and ShardLimits run under the
// injector's lock; hooks do not.
//
// The package lives under internal/ and must never be used outside tests: it trusts the
// emulators (it lists shards with the caller's request headers and does not re-sign).
package faults
