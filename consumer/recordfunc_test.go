package consumer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// modelCheckpointer is a Checkpointer that checks each checkpoint against the records
// handled so far: a checkpoint must never pass a record that is not done.
type modelCheckpointer struct {
	t      testing.TB
	h      *handlerModel
	mu     sync.Mutex
	pos    int // stream index of the first record after the checkpoint
	writes int
	lost   bool
}

func (c *modelCheckpointer) Checkpoint(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pos = len(c.h.stream) // SHARD_END
	return nil
}

func (c *modelCheckpointer) CheckpointAt(_ context.Context, seq string, sub int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lost {
		return ErrLeaseLost
	}
	j := slices.IndexFunc(c.h.stream, func(r Record) bool { return r.SequenceNumber == seq && r.SubSequenceNumber == sub })
	if j < 0 {
		c.t.Errorf("checkpoint at %s/%d: no such record", seq, sub)
		return nil
	}
	if j+1 < c.pos {
		c.t.Errorf("checkpoint at record %d goes back from %d", j, c.pos-1)
	}
	for k := 0; k <= j; k++ {
		if !c.h.isDone(k) {
			c.t.Errorf("checkpoint at record %d passes record %d, which is not done", j, k)
		}
	}
	c.pos = j + 1
	c.writes++
	return nil
}

func (c *modelCheckpointer) position() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pos
}

// handlerModel is a record handler with random latencies and errors that checks the
// ordering rules as records start.
type handlerModel struct {
	t        testing.TB
	ordering Ordering
	stream   []Record
	rng      func() (time.Duration, bool) // latency, fail

	mu         sync.Mutex
	life       int            // current processor life (a new one after each lease loss)
	doneIn     map[int]int    // stream index -> life in which it was last done
	handled    []int          // successful calls per record
	givenUp    []int          // give-ups per record
	maxRetries int            // of the failure policy; -1: forever
	runningBy  map[string]int // key -> records of the key running
	running    int
	maxRun     int
	starts     []int // stream index each life started at
}

func (h *handlerModel) isDone(i int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.handled[i] > 0 || h.givenUp[i] > 0
}

// giveUp is the model's OnFailure: a given-up record is done.
func (h *handlerModel) giveUp(f FailedRecord) bool {
	i := streamIndex(&f.Record)
	h.mu.Lock()
	defer h.mu.Unlock()
	if f.Reason != RetriesExhausted || f.Attempts != h.maxRetries+1 || f.Err == nil {
		h.t.Errorf("record %d given up with reason %s after %d attempts (err %v), want RetriesExhausted after %d", i, f.Reason, f.Attempts, f.Err, h.maxRetries+1)
	}
	h.givenUp[i]++
	h.doneIn[i] = h.life
	return true
}

func (h *handlerModel) handle(ctx context.Context, r Record) error {
	i := streamIndex(&r)
	h.mu.Lock()
	life := h.life
	if h.ordering != OrderNone {
		for j := i - 1; j >= 0; j-- {
			if h.ordering == OrderByPartitionKey && h.stream[j].PartitionKey != r.PartitionKey {
				continue
			}
			if l, ok := h.doneIn[j]; ok && l == life {
				break // done in this life: so were the ones before it
			}
			if (h.handled[j] > 0 || h.givenUp[j] > 0) && j < h.lifeStart(life) {
				break // before this life's start: done by an earlier owner
			}
			h.t.Errorf("life %d: record %d (key %s) started before record %d of its %s was done", life, i, r.PartitionKey, j, map[bool]string{true: "key", false: "shard"}[h.ordering == OrderByPartitionKey])
			break
		}
		k := r.PartitionKey
		if h.ordering == OrderByShard {
			k = ""
		}
		if h.runningBy[k] > 0 {
			h.t.Errorf("record %d started while another record of key %q runs", i, k)
		}
		h.runningBy[k]++
		defer func() { h.mu.Lock(); h.runningBy[k]--; h.mu.Unlock() }()
	}
	h.running++
	h.maxRun = max(h.maxRun, h.running)
	latency, fail := h.rng()
	h.mu.Unlock()

	t := time.NewTimer(latency)
	var err error
	select {
	case <-t.C:
		if fail {
			err = errors.New("random failure")
		}
	case <-ctx.Done():
		t.Stop()
		err = ctx.Err()
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	h.running--
	if err == nil {
		h.handled[i]++
		h.doneIn[i] = life
	}
	return err
}

func (h *handlerModel) lifeStart(l int) int { return h.starts[l] }

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestRecordFuncAgainstModel runs per-record processors with random concurrency,
// ordering, batch sizes, handler latencies (0-5 ms), errors and lease losses, and
// checks the model's rules: per-key (or per-shard) order within an owner, no checkpoint
// past a record not done, every record handled at least once, the final checkpoint at
// the end, and no goroutine left.
func TestRecordFuncAgainstModel(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { runRecordFuncModel(t, seed) })
		})
	}
}

func runRecordFuncModel(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1919))
	var rngMu sync.Mutex
	hrng := rand.New(rand.NewPCG(seed, 91)) // the handlers' own, under rngMu
	ordering := Ordering(rng.IntN(3))
	concurrency := 1 + rng.IntN(16)
	h := &handlerModel{
		t: t, ordering: ordering, stream: modelStream(rng, 300, 1+rng.IntN(20)),
		doneIn: map[int]int{}, runningBy: map[string]int{}, starts: []int{0},
	}
	h.handled = make([]int, len(h.stream))
	h.givenUp = make([]int, len(h.stream))
	h.maxRetries = -1 // forever
	if rng.IntN(2) == 0 {
		h.maxRetries = rng.IntN(3)
	}
	failRate := rng.Float64() * 0.2
	h.rng = func() (time.Duration, bool) {
		rngMu.Lock()
		defer rngMu.Unlock()
		return time.Duration(hrng.IntN(5001)) * time.Microsecond, hrng.Float64() < failRate
	}
	cp := &modelCheckpointer{t: t, h: h}
	losses := rng.IntN(3)
	for life := 0; ; life++ {
		start := cp.position()
		h.mu.Lock()
		h.life = life
		if life > 0 {
			h.starts = append(h.starts, start)
		}
		h.mu.Unlock()
		p := NewRecordFunc(h.handle)("shard-0").(*recordFuncProcessor)
		cfg := defaultRecordFuncConfig()
		cfg.concurrency, cfg.ordering, cfg.maxBatches = concurrency, ordering, 1+rng.IntN(3)
		if ordering == OrderByShard {
			cfg.concurrency = 1
		}
		cfg.checkpointInterval = time.Duration(1+rng.IntN(20)) * time.Millisecond
		cfg.maxRetryBackoff = 10 * time.Millisecond
		cfg.policy = failurePolicy{maxRetries: h.maxRetries}
		cfg.giveUp = h.giveUp
		cfg.log = quietLogger()
		p.configure(cfg)
		if err := p.Initialize(t.Context(), InitializeInput{ShardID: "shard-0"}); err != nil {
			t.Fatal(err)
		}
		shardCtx, cancel := context.WithCancelCause(t.Context())
		lose := life < losses
		if lose {
			delay := time.Duration(rng.IntN(200)) * time.Millisecond
			time.AfterFunc(delay, func() {
				cp.mu.Lock()
				cp.lost = true
				cp.mu.Unlock()
				cancel(ErrLeaseLost)
			})
		}
		next := start
		for next < len(h.stream) {
			end := min(next+1+rng.IntN(40), len(h.stream))
			if err := p.ProcessRecords(shardCtx, ProcessRecordsInput{ShardID: "shard-0", Records: slices.Clone(h.stream[next:end]), Checkpointer: cp}); err != nil {
				break
			}
			next = end
		}
		if lose {
			<-shardCtx.Done()
			p.LeaseLost(context.Background(), LeaseLostInput{ShardID: "shard-0"})
			synctest.Wait()
			h.mu.Lock()
			if h.running != 0 {
				t.Errorf("%d handlers still running after LeaseLost returned", h.running)
			}
			h.mu.Unlock()
			cp.mu.Lock()
			cp.lost = false
			cp.mu.Unlock()
			continue
		}
		// The shard ends: everything is handled, then SHARD_END.
		if err := p.ShardEnded(shardCtx, ShardEndedInput{ShardID: "shard-0", Checkpointer: cp}); err != nil {
			t.Fatal(err)
		}
		cancel(nil)
		break
	}
	givenUp := 0
	for i, n := range h.handled {
		if n == 0 && h.givenUp[i] == 0 {
			t.Errorf("record %d was never handled nor given up", i)
		}
		givenUp += h.givenUp[i]
	}
	if h.maxRetries < 0 && givenUp > 0 {
		t.Errorf("%d records given up with MaxRetries forever", givenUp)
	}
	if cp.position() != len(h.stream) {
		t.Errorf("final checkpoint before record %d, want SHARD_END", cp.position())
	}
	if ordering != OrderByShard && concurrency > 1 && h.maxRun < 2 && len(h.runningBy) > 1 {
		t.Errorf("at most %d handlers ran at once with Concurrency %d", h.maxRun, concurrency)
	}
	if h.maxRun > concurrency {
		t.Errorf("%d handlers ran at once, Concurrency %d", h.maxRun, concurrency)
	}
}
