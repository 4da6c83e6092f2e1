package benchmarks

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	kcl "github.com/vmware/vmware-go-kcl-v2/clientlibrary/interfaces"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/consumer"
	"github.com/kinesis-go/kinesis/internal/testbed"
	"github.com/kinesis-go/kinesis/kinesistest"
)

const (
	// balanceShards is the stream size of the lease balance benchmark: worker A
	// holds all of them when worker B joins; balanced is 4 and 4.
	balanceShards = 8
	// balanceDeadline bounds one join; a library slower than this is reported
	// as not balancing (balanced-% below 100), not as a failure.
	balanceDeadline = 90 * time.Second
	// balancePoll is how often the lease table is read while waiting.
	balancePoll = 10 * time.Millisecond
)

// tracker follows which shards a worker's processors are running.
type tracker struct {
	mu     sync.Mutex
	active map[string]bool
}

func newTracker() *tracker { return &tracker{active: make(map[string]bool)} }

func (t *tracker) set(shard string, on bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if on {
		t.active[shard] = true
	} else {
		delete(t.active, shard)
	}
}

func (t *tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.active)
}

// balanceProcessor is our RecordProcessor for the balance benchmark: it
// checkpoints every batch (so that leases have checkpoints, as in production)
// and tracks Initialize and the end of its lease.
type balanceProcessor struct {
	shard string
	t     *tracker
}

func (p *balanceProcessor) Initialize(context.Context, consumer.InitializeInput) error {
	p.t.set(p.shard, true)
	return nil
}

func (p *balanceProcessor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	_ = in.Checkpointer.Checkpoint(ctx)
	return nil
}

func (p *balanceProcessor) LeaseLost(context.Context, consumer.LeaseLostInput) {
	p.t.set(p.shard, false)
}

func (p *balanceProcessor) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	p.t.set(p.shard, false)
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *balanceProcessor) ShutdownRequested(context.Context, consumer.ShutdownRequestedInput) error {
	p.t.set(p.shard, false)
	return nil
}

// owners counts the leases per owner and how many have a checkpoint past the
// start of the shard.
type owners struct {
	by          map[string]int
	checkpoints int
}

// BenchmarkLeaseBalance measures how long a worker joining a busy application
// takes to get its share: worker A holds all 8 leases of a stream (and has
// checkpointed each), worker B starts; one op is one join. Reported:
//
//   - balanced-ms: from B's start until the lease table shows 4 leases each;
//   - handoff-ms: until B's processors run on 4 shards (the timed region);
//   - old-owner-ms (ours only): until A's processors of the 4 moved shards got
//     LeaseLost; vmware-go-kcl-v2 does not tell its processor, and a stolen
//     lease is only taken after A released it;
//   - balanced-%: joins that balanced within balanceDeadline.
//
// Both libraries run with their default lease timings; vmware-go-kcl-v2 needs
// EnableLeaseStealing (off by default: without it a joining worker gets no
// lease while A renews them) and vmwareShardSync.
func BenchmarkLeaseBalance(b *testing.B) {
	b.Run("store=memory/lib=kinesis-go", func(b *testing.B) {
		fake := kinesistest.NewServer(b).Kinesis()
		benchBalance(b, func(b *testing.B) (balanceWorld, func()) {
			stream := uniqueStream("balance")
			createStream(b, fake, stream, balanceShards)
			fillStream(b, fake, stream, newWorkload(100*balanceShards))
			store := checkpoint.NewMemory()
			return balanceWorld{
				start: func(worker string, t *tracker) func() {
					return startOurs(b, fake, stream, store, worker, t)
				},
				read:       func(ctx context.Context) (owners, error) { return ourOwners(ctx, store) },
				tracksLoss: true,
			}, func() {}
		})
	})
	for _, lib := range []string{libOurs, libVMware} {
		b.Run("store=dynamodb/lib="+lib, func(b *testing.B) {
			env := localAWS(b)
			client, closeConns := newHTTPClient(sharedFake(b, modeStore).URL, nil)
			defer closeConns()
			ddb := env.DynamoDB()
			benchBalance(b, func(b *testing.B) (balanceWorld, func()) {
				stream := uniqueStream("balance")
				createStream(b, client, stream, balanceShards)
				fillStream(b, client, stream, newWorkload(100*balanceShards))
				table := testbed.UniqueName("balance")
				w := balanceWorld{}
				switch lib {
				case libOurs:
					store, err := checkpoint.NewDynamoDB(ddb, table, func(o *checkpoint.DynamoDBOptions) { o.Logger = quietLogger() })
					if err != nil {
						b.Fatal(err)
					}
					if err := store.EnsureTable(context.Background()); err != nil {
						b.Fatal(err)
					}
					w.start = func(worker string, t *tracker) func() {
						return startOurs(b, client, stream, store, worker, t)
					}
					w.read = func(ctx context.Context) (owners, error) { return ourOwners(ctx, store) }
					w.tracksLoss = true
				case libVMware:
					w.start = func(worker string, t *tracker) func() {
						cfg := vmwareConfig(stream, table, worker).WithLeaseStealing(true)
						f := &kclFactory{chk: newChecker(nil), init: func(shard string) { t.set(shard, true) }}
						kw := newVMwareWorker(b, cfg, ddb, client, f)
						if err := kw.Start(); err != nil {
							b.Fatal(err)
						}
						return kw.Shutdown
					}
					w.read = func(ctx context.Context) (owners, error) { return vmwareOwners(ctx, ddb, table) }
				}
				return w, func() { deleteTable(ddb, table) }
			})
		})
	}
}

// balanceWorld is one library's setup for a join: start runs a worker (and
// returns its stop function), read reads the lease table.
type balanceWorld struct {
	start func(worker string, t *tracker) (stop func())
	read  func(ctx context.Context) (owners, error)
	// tracksLoss is true when the old owner's processors are told that their
	// lease moved (ours: LeaseLost).
	tracksLoss bool
}

func benchBalance(b *testing.B, setup func(b *testing.B) (balanceWorld, func())) {
	var balancedMS, handoffMS, oldOwnerMS []float64
	balanced := 0
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		w, cleanup := setup(b)
		ta, tb := newTracker(), newTracker()
		stopA := w.start("worker-a", ta)
		// A takes every lease and checkpoints each shard.
		waitOwners(b, w, func(o owners) bool { return o.by["worker-a"] == balanceShards && o.checkpoints == balanceShards })
		for ready := time.Now().Add(balanceDeadline); ta.count() != balanceShards; time.Sleep(balancePoll) {
			if time.Now().After(ready) {
				b.Fatalf("worker A runs %d of %d shards after %v", ta.count(), balanceShards, balanceDeadline)
			}
		}

		start := time.Now()
		b.StartTimer()
		stopB := w.start("worker-b", tb)
		var tBalanced, tHandoff, tOld time.Duration
		deadline := time.Now().Add(balanceDeadline)
		for time.Now().Before(deadline) && (tBalanced == 0 || tHandoff == 0 || w.tracksLoss && tOld == 0) {
			now := time.Since(start)
			if tHandoff == 0 && tb.count() >= balanceShards/2 {
				tHandoff = now
				b.StopTimer()
			}
			if w.tracksLoss && tOld == 0 && ta.count() <= balanceShards/2 {
				tOld = now
			}
			if tBalanced == 0 {
				o, err := w.read(context.Background())
				if err == nil && o.by["worker-a"] == balanceShards/2 && o.by["worker-b"] == balanceShards/2 {
					tBalanced = now
				}
			}
			time.Sleep(balancePoll)
		}
		b.StopTimer()
		if tBalanced != 0 && tHandoff != 0 {
			balanced++
			balancedMS = append(balancedMS, ms(tBalanced))
			handoffMS = append(handoffMS, ms(tHandoff))
			if tOld != 0 {
				oldOwnerMS = append(oldOwnerMS, ms(tOld))
			}
		} else {
			o, _ := w.read(context.Background())
			b.Logf("no balance within %v: lease owners %v, B runs %d shards, A runs %d", balanceDeadline, o.by, tb.count(), ta.count())
		}
		stopB()
		stopA()
		cleanup()
	}
	b.ReportMetric(100*float64(balanced)/float64(b.N), "balanced-%")
	if len(balancedMS) > 0 {
		b.ReportMetric(mean(balancedMS), "balanced-ms")
		b.ReportMetric(mean(handoffMS), "handoff-ms")
	}
	if len(oldOwnerMS) > 0 {
		b.ReportMetric(mean(oldOwnerMS), "old-owner-ms")
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func waitOwners(b *testing.B, w balanceWorld, ok func(owners) bool) {
	b.Helper()
	deadline := time.Now().Add(balanceDeadline)
	for {
		o, err := w.read(context.Background())
		if err == nil && ok(o) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("worker A did not take and checkpoint every lease within %v: %v %v", balanceDeadline, o.by, err)
		}
		time.Sleep(balancePoll)
	}
}

// startOurs runs our consumer as worker with default lease timings.
func startOurs(b *testing.B, client consumer.Client, stream string, store checkpoint.Store, worker string, t *tracker) func() {
	c, err := consumer.New(client, stream, store, func(shard string) consumer.RecordProcessor {
		return &balanceProcessor{shard: shard, t: t}
	}, func(o *consumer.Options) {
		o.InitialPosition = consumer.InitialPositionTrimHorizon
		o.WorkerID = worker
		o.Logger = quietLogger()
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()
	return func() {
		cancel()
		if err := <-errc; err != nil {
			b.Error(err)
		}
	}
}

func ourOwners(ctx context.Context, store checkpoint.Store) (owners, error) {
	leases, err := store.ListLeases(ctx)
	if err != nil {
		return owners{}, err
	}
	o := owners{by: make(map[string]int)}
	for _, l := range leases {
		if l.Owner != "" {
			o.by[l.Owner]++
		}
		if !l.Checkpoint.IsSentinel() {
			o.checkpoints++
		}
	}
	return o, nil
}

// vmwareOwners reads vmware-go-kcl-v2's lease table (its own schema: ShardID,
// AssignedTo, Checkpoint).
func vmwareOwners(ctx context.Context, ddb *dynamodb.Client, table string) (owners, error) {
	out, err := ddb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return owners{}, err
	}
	o := owners{by: make(map[string]int)}
	for _, item := range out.Items {
		if v, ok := item["AssignedTo"].(*ddbtypes.AttributeValueMemberS); ok && v.Value != "" {
			o.by[v.Value]++
		}
		if v, ok := item["Checkpoint"].(*ddbtypes.AttributeValueMemberS); ok && v.Value != "" {
			o.checkpoints++
		}
	}
	if out.LastEvaluatedKey != nil {
		return o, fmt.Errorf("lease table %s needs more than one scan page", table)
	}
	return o, nil
}

var _ kcl.IRecordProcessor = (*kclTracked)(nil)
