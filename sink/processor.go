package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/consumer"
)

// processor is the RecordProcessor of one shard. Records accumulate in a batch (all the
// shard's records since its checkpoint, grouped into partitions by their evaluated
// partition keys); the whole batch is written, one object per partition, when a
// partition reaches BufferSize, the batch reaches MaxBufferedBytes or BufferInterval has
// passed since its first record came in. Then the shard is checkpointed at the batch's
// last record. Writing every partition of the batch together is what lets the checkpoint
// pass all of them, and lets one state object (intent) fix where the batch ends.
type processor struct {
	s       *sink
	shardID string
	log     *slog.Logger
	attrs   metric.MeasurementOption

	// mu guards the fields below. A channel rather than a sync.Mutex: a batch write
	// holds it for as long as the destination fails, and whoever waits for it (the
	// interval goroutine, a ProcessRecords whose lease was lost) must be able to give up
	// when its ctx ends.
	mu      ctxLock
	start   checkpoint.ExtendedSequenceNumber // the checkpoint the batch follows
	last    checkpoint.ExtendedSequenceNumber // the last record taken (zero before any)
	entries []entry                           // the batch, in shard order
	parts   map[string]int                    // bytes per partition in the batch
	size    int                               // bytes in the batch
	since   time.Time                         // when the batch's first record came in
	forced  *intent                           // the batch must end exactly at forced.Last
	cutDue  bool                              // a size limit was reached: write first
	cp      consumer.Checkpointer             // the latest Checkpointer

	kick   chan struct{} // wakes the interval goroutine when a batch starts
	cancel context.CancelFunc
	done   chan struct{} // closed when the interval goroutine ended
}

// entry is one record in the batch.
type entry struct {
	pos     checkpoint.ExtendedSequenceNumber
	arrival time.Time
	part    string // partition: the key values, or errorPart + error type
	keys    recordKeys
	data    []byte // what is written: the transformed data, or an error line
	pk      string // the record's partition key, for error lines
	shardID string
}

// errorPart starts the partition of records for the error output.
const errorPart = "\x00error:"

type recordKeys struct{ query, lambda map[string]string }

func (s *sink) newProcessor(shardID string) *processor {
	return &processor{
		s:       s,
		shardID: shardID,
		log:     s.cfg.Logger.With("stream", s.cfg.StreamName, "shard", shardID),
		attrs:   shardAttrs(s.cfg.StreamName, shardID),
		parts:   map[string]int{},
		kick:    make(chan struct{}, 1),
		mu:      make(ctxLock, 1),
	}
}

// ctxLock is a mutex whose lock can be abandoned when a context ends.
type ctxLock chan struct{}

func (l ctxLock) lock(ctx context.Context) error {
	select {
	case l <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (l ctxLock) unlock() { <-l }

// Initialize reads the shard's state object: when it describes a batch that follows the
// checkpoint the shard resumes from, the batch was (perhaps partly) written before a
// crash or a lost lease, and it is cut at the same record again.
func (p *processor) Initialize(ctx context.Context, in consumer.InitializeInput) error {
	it, _, err := p.s.readIntent(ctx, p.shardID)
	if err != nil {
		return fmt.Errorf("sink: reading the state of shard %s: %w", p.shardID, err)
	}
	if err := p.mu.lock(ctx); err != nil {
		return err
	}
	p.start = in.Checkpoint
	p.forced = nil
	if it != nil && it.Start == toPosition(in.Checkpoint) {
		p.forced = it
		p.log.Info("sink: resuming a batch that was being written; it ends at the same record",
			"first", it.First.ext().String(), "last", it.Last.ext().String())
	}
	p.mu.unlock()
	if p.done == nil {
		lctx, cancel := context.WithCancel(context.Background())
		p.cancel, p.done = cancel, make(chan struct{})
		go p.intervalLoop(lctx)
	}
	return nil
}

// ProcessRecords adds the records to the batch, writing it whenever it is full. It
// returns only once every record is taken, so while writes fail the shard waits and the
// consumer reads no further.
func (p *processor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	if err := p.mu.lock(ctx); err != nil {
		return err
	}
	defer p.mu.unlock()
	p.cp = in.Checkpointer
	for _, r := range in.Records {
		if p.cutDue {
			if err := p.writeBatch(ctx, p.cp, writeWhenDue); err != nil {
				return err
			}
		}
		pos := checkpoint.ExtendedSequenceNumber{SequenceNumber: r.SequenceNumber, SubSequenceNumber: r.SubSequenceNumber}
		if !p.last.IsZero() && pos.Compare(p.last) <= 0 {
			continue // taken before an earlier attempt of this batch failed
		}
		p.add(r, pos)
	}
	if p.cutDue {
		return p.writeBatch(ctx, p.cp, writeWhenDue)
	}
	return nil
}

// LeaseLost drops the batch: the new owner reads it again from the checkpoint.
func (p *processor) LeaseLost(context.Context, consumer.LeaseLostInput) {
	p.stop()
	if p.mu.lock(context.Background()) == nil {
		p.reset()
		p.mu.unlock()
	}
}

// ShardEnded writes the batch and checkpoints SHARD_END.
func (p *processor) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	p.stop()
	if err := p.mu.lock(ctx); err != nil {
		return err
	}
	defer p.mu.unlock()
	if err := p.writeBatch(ctx, in.Checkpointer, writeAtShardEnd); err != nil {
		return err
	}
	return p.retry(ctx, "checkpoint of SHARD_END", in.Checkpointer.Checkpoint)
}

// ShutdownRequested writes the batch, so the next owner starts after it.
func (p *processor) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	p.stop()
	if err := p.mu.lock(ctx); err != nil {
		return err
	}
	defer p.mu.unlock()
	return p.writeBatch(ctx, in.Checkpointer, writeAtShutdown)
}

// stop ends the interval goroutine and waits for it.
func (p *processor) stop() {
	if p.cancel != nil {
		p.cancel()
		<-p.done
	}
}

// intervalLoop writes the batch when BufferInterval has passed since its first record.
func (p *processor) intervalLoop(ctx context.Context) {
	defer close(p.done)
	for {
		if p.mu.lock(ctx) != nil {
			return
		}
		due := p.deadline()
		p.mu.unlock()
		var timer *time.Timer
		var fire <-chan time.Time
		if !due.IsZero() {
			timer = time.NewTimer(time.Until(due))
			fire = timer.C
		}
		select {
		case <-ctx.Done():
		case <-p.kick:
		case <-fire:
			if p.mu.lock(ctx) != nil {
				break
			}
			var err error
			if d := p.deadline(); !d.IsZero() && !time.Now().Before(d) {
				err = p.writeBatch(ctx, p.cp, writeWhenDue)
			}
			p.mu.unlock()
			if err != nil && ctx.Err() == nil {
				// Only a lost lease ends writeBatch early: wait for LeaseLost, or try
				// again later, rather than at once and again.
				p.log.Error("sink: writing the batch failed", "error", err)
				pause := time.NewTimer(p.s.cfg.MaxRetryBackoff)
				select {
				case <-ctx.Done():
				case <-pause.C:
				}
				pause.Stop()
			}
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// deadline is when the batch is due by BufferInterval; zero when there is none or it
// must end at a given record.
func (p *processor) deadline() time.Time {
	if len(p.entries) == 0 || p.forced != nil {
		return time.Time{}
	}
	return p.since.Add(p.s.cfg.BufferInterval)
}

// add appends one record to the batch.
func (p *processor) add(r consumer.Record, pos checkpoint.ExtendedSequenceNumber) {
	e := entry{pos: pos, arrival: r.ApproximateArrivalTimestamp, pk: r.PartitionKey, shardID: r.ShardID}
	if e.shardID == "" {
		e.shardID = p.shardID
	}
	data, err := r.Data, error(nil)
	if p.s.cfg.Transform != nil {
		data, err = p.s.cfg.Transform(r)
	}
	if err == nil {
		e.keys, e.part, err = p.partition(r, data)
	}
	if err != nil {
		e.part = errorPart + ErrorOutputProcessingFailed
		e.data = errorLine(ErrorOutputProcessingFailed, err, r, r.Data)
	} else {
		e.data = data
	}
	if len(p.entries) == 0 {
		p.since = time.Now()
		select {
		case p.kick <- struct{}{}:
		default:
		}
		if p.forced != nil && toPosition(pos) != p.forced.First {
			p.log.Warn("sink: the state object describes a batch that starts elsewhere; ignored",
				"first", p.forced.First.ext().String(), "got", pos.String())
			p.forced = nil
		}
	}
	p.entries = append(p.entries, e)
	p.last = pos
	p.parts[e.part] += len(e.data)
	p.size += len(e.data)
	p.checkDue(e.part)
}

func (p *processor) checkDue(part string) {
	switch {
	case p.forced != nil:
		p.cutDue = p.last.Compare(p.forced.Last.ext()) >= 0
	case p.parts[part] >= p.s.cfg.BufferSize || p.size >= p.s.cfg.MaxBufferedBytes:
		p.cutDue = true
	}
}

// partition evaluates the record's partition keys.
func (p *processor) partition(r consumer.Record, data []byte) (recordKeys, string, error) {
	var k recordKeys
	tpl := p.s.cfg.prefixes.data
	if !tpl.has(partQueryKey) && !tpl.has(partLambdaKey) {
		return k, "", nil
	}
	if tpl.has(partLambdaKey) {
		m, err := p.s.cfg.PartitionKeyFunc(r)
		if err != nil {
			return k, "", fmt.Errorf("%w: PartitionKeyFunc: %w", errPartitionKey, err)
		}
		k.lambda = m
	}
	var part strings.Builder
	for _, tp := range tpl.parts {
		var v string
		switch tp.kind {
		case partQueryKey:
			if k.query == nil {
				k.query = map[string]string{}
			}
			if _, done := k.query[tp.text]; !done {
				got, err := p.s.cfg.queries[tp.text].eval(data)
				if err != nil {
					return k, "", fmt.Errorf("%w %q (%s): %w", errPartitionKey, tp.text, p.s.cfg.PartitionKeyQueries[tp.text], err)
				}
				k.query[tp.text] = got
			}
			v = k.query[tp.text]
		case partLambdaKey:
			var ok bool
			if v, ok = k.lambda[tp.text]; !ok {
				return k, "", fmt.Errorf("%w %q: PartitionKeyFunc returned no such key", errPartitionKey, tp.text)
			}
		default:
			continue
		}
		if err := checkKeyValue(tp.text, v); err != nil {
			return k, "", err
		}
		part.WriteString(v)
		part.WriteByte(0)
	}
	if part.Len() > maxPrefixLen {
		return k, "", fmt.Errorf("%w: the values make a prefix longer than %d bytes, Firehose's limit", errPartitionKey, maxPrefixLen)
	}
	return k, part.String(), nil
}

// write modes of writeBatch
type writeMode int

const (
	writeWhenDue    writeMode = iota // a limit was reached
	writeAtShutdown                  // the worker stops; the lease is still held
	writeAtShardEnd                  // no more records will come
)

// writeBatch writes the batch (up to the record it must end at), then checkpoints its
// last record. It retries until it succeeds, ctx ends or the lease is lost.
func (p *processor) writeBatch(ctx context.Context, cp consumer.Checkpointer, mode writeMode) error {
	if len(p.entries) == 0 {
		p.cutDue = false
		return nil
	}
	n, wait, err := p.claimBatch(ctx, mode)
	if err != nil || wait {
		return err
	}
	batch := p.entries[:n]
	objs, failed, err := p.s.buildObjects(p.shardID, batch)
	if err != nil {
		return err
	}
	if err := p.writeObjects(ctx, objs); err != nil {
		return err
	}
	last := batch[n-1].pos
	if err := p.retry(ctx, "checkpoint", func(ctx context.Context) error {
		return cp.CheckpointAt(ctx, last.SequenceNumber, last.SubSequenceNumber)
	}); err != nil {
		return err
	}
	add(p.s.m.records, n-failed, p.attrs)
	add(p.s.m.failed, failed, p.attrs)
	p.start = last
	rest := p.entries[n:]
	p.reset()
	if len(rest) > 0 {
		p.entries = append(p.entries, rest...)
		p.since = time.Now()
		for _, e := range rest {
			p.parts[e.part] += len(e.data)
			p.size += len(e.data)
			p.checkDue(e.part)
		}
	}
	return nil
}

// claimBatch decides where the batch ends and records it in the shard's state object
// before any of its objects is written. Another worker may have started this batch
// since Initialize (a lease taken from a worker still running): then its cut is
// followed. With a ConditionalDestination the state is replaced only if nobody changed
// it since it was read, so two workers can never record different cuts. It returns how
// many entries the batch has, or wait when it must go on to a record not taken yet.
func (p *processor) claimBatch(ctx context.Context, mode writeMode) (n int, wait bool, err error) {
	for {
		var other *intent
		var version string
		if err := p.retry(ctx, "reading the shard's state", func(ctx context.Context) (err error) {
			other, version, err = p.s.readIntent(ctx, p.shardID)
			return err
		}); err != nil {
			return 0, false, err
		}
		if other != nil && other.Start.ext().Compare(p.start) > 0 {
			// Another worker holds the shard now and already checkpointed past this
			// batch: writing it would overlap that worker's objects.
			return 0, false, fmt.Errorf("%w: sink: another worker already wrote shard %s past %s", consumer.ErrLeaseLost, p.shardID, p.start)
		}
		if other != nil && other.Start == toPosition(p.start) && other.First == toPosition(p.entries[0].pos) {
			if p.forced == nil || *p.forced != *other {
				p.log.Warn("sink: another worker started writing this batch; ending it at the same record", "last", other.Last.ext().String())
			}
			p.forced = other
		}
		n = len(p.entries)
		if p.forced != nil {
			end := p.forced.Last.ext()
			n = sort.Search(len(p.entries), func(i int) bool { return p.entries[i].pos.Compare(end) > 0 })
			if n == len(p.entries) && p.entries[n-1].pos.Compare(end) < 0 {
				switch mode {
				case writeWhenDue:
					p.cutDue = false
					return 0, true, nil // wait for the records up to the end
				case writeAtShutdown:
					return 0, true, nil // the next owner continues the batch
				}
				p.log.Error("sink: the shard ended before the record the state object names; writing what there is",
					"last", end.String())
			}
			if n == 0 {
				n = len(p.entries)
			}
		}
		it := intent{Start: toPosition(p.start), First: toPosition(p.entries[0].pos), Last: toPosition(p.entries[n-1].pos)}
		if other != nil && *other == it {
			return n, false, nil // recorded already (by this worker or the other)
		}
		conflict := false
		if err := p.retry(ctx, "writing the shard's state", func(ctx context.Context) error {
			err := p.s.writeIntent(ctx, p.shardID, it, version)
			if errors.Is(err, ErrConflict) {
				conflict = true
				return nil
			}
			return err
		}); err != nil {
			return 0, false, err
		}
		if !conflict {
			return n, false, nil
		}
		// Someone wrote the state between our read and our write: read it again.
	}
}

// reset empties the batch.
func (p *processor) reset() {
	p.entries = nil
	clear(p.parts)
	p.size = 0
	p.forced = nil
	p.cutDue = false
}

// writeObjects writes objs, WriteConcurrency at a time, each retried until it succeeds.
func (p *processor) writeObjects(ctx context.Context, objs []object) error {
	sem := make(chan struct{}, p.s.cfg.WriteConcurrency)
	errs := make([]error, len(objs))
	var wg sync.WaitGroup
	for i, o := range objs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = p.retry(ctx, "writing object "+o.name, func(ctx context.Context) error {
				return p.s.dest.Put(ctx, o.name, o.body)
			})
			if errs[i] == nil {
				add(p.s.m.objects, 1, p.attrs)
				add(p.s.m.bytes, len(o.body), p.attrs)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// object is one object of a batch, ready to write.
type object struct {
	name string
	body []byte
}

// buildObjects encodes the batch: one object per partition, in the order the partitions
// first appear, then one per error type. It also returns how many records went to the
// error output.
func (s *sink) buildObjects(shardID string, batch []entry) ([]object, int, error) {
	var order []string
	groups := map[string][]int{} // indexes into batch
	sizes := map[string]int{}
	for i, e := range batch {
		if _, ok := groups[e.part]; !ok {
			order = append(order, e.part)
		}
		groups[e.part] = append(groups[e.part], i)
		sizes[e.part] += len(e.data) + 8
	}
	var objs []object
	var conversionFailed []entry
	for _, part := range order {
		if strings.HasPrefix(part, errorPart) {
			continue
		}
		buf := bytes.NewBuffer(make([]byte, 0, sizes[part]))
		enc := s.cfg.Format.NewEncoder(buf)
		var in []entry // the first and the last record encoded, which name the object
		for _, i := range groups[part] {
			e := &batch[i]
			if err := enc.Encode(e.data); err != nil {
				r := consumer.Record{ShardID: e.shardID, SequenceNumber: e.pos.SequenceNumber, SubSequenceNumber: e.pos.SubSequenceNumber,
					PartitionKey: e.pk, ApproximateArrivalTimestamp: e.arrival}
				conversionFailed = append(conversionFailed, entry{pos: e.pos, arrival: e.arrival,
					data: errorLine(ErrorOutputFormatConversionFailed, err, r, e.data)})
				continue
			}
			if len(in) == 0 {
				in = append(in, *e)
			}
			in = append(in[:1], *e)
		}
		if err := enc.Close(); err != nil {
			return nil, 0, fmt.Errorf("sink: encoding an object of shard %s: %w", shardID, err)
		}
		if len(in) == 0 {
			continue
		}
		o, err := s.object(shardID, in, buf.Bytes(), s.cfg.prefixes.data, "", s.cfg.Format.Extension())
		if err != nil {
			return nil, 0, err
		}
		objs = append(objs, o)
	}
	failed := 0
	var processingFailed []entry
	for _, i := range groups[errorPart+ErrorOutputProcessingFailed] {
		processingFailed = append(processingFailed, batch[i])
	}
	errGroups := []struct {
		typ     string
		entries []entry
	}{
		{ErrorOutputProcessingFailed, processingFailed},
		{ErrorOutputFormatConversionFailed, conversionFailed},
	}
	for _, g := range errGroups {
		if len(g.entries) == 0 {
			continue
		}
		var buf bytes.Buffer
		for _, e := range g.entries {
			buf.Write(e.data)
		}
		o, err := s.object(shardID, g.entries, buf.Bytes(), s.cfg.prefixes.errors, g.typ, ".json")
		if err != nil {
			return nil, 0, err
		}
		objs = append(objs, o)
		failed += len(g.entries)
	}
	return objs, failed, nil
}

// object names and compresses the body of records from in[0] to in[len(in)-1].
func (s *sink) object(shardID string, in []entry, body []byte, tpl template, errorType, ext string) (object, error) {
	first, last := in[0], in[len(in)-1]
	base := s.cfg.StreamName + "-" + shardID + "-" + posName(first.pos) + "-" + posName(last.pos)
	prefix := tpl.render(prefixValues{
		time:       first.arrival,
		seed:       base,
		errorType:  errorType,
		queryKeys:  first.keys.query,
		lambdaKeys: first.keys.lambda,
	})
	z, err := s.cfg.Compression.compress(body)
	if err != nil {
		return object{}, fmt.Errorf("sink: compressing an object of shard %s: %w", shardID, err)
	}
	return object{name: prefix + base + ext + s.cfg.Compression.extension(), body: z}, nil
}

// posName is a position in an object name: the sequence number, with ".sub" for a
// record inside an aggregated record.
func posName(e checkpoint.ExtendedSequenceNumber) string {
	if e.SubSequenceNumber == 0 {
		return e.SequenceNumber
	}
	return fmt.Sprintf("%s.%d", e.SequenceNumber, e.SubSequenceNumber)
}
