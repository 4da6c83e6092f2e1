package consumer

import (
	"context"
	"errors"
	"sync"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// countingStore counts the calls of each Store method and the leases each CreateLease
// actually created.
type countingStore struct {
	checkpoint.Store
	mu      sync.Mutex
	calls   map[string]int
	created map[string]int
	// fail, when set, can fail a call before it reaches the store.
	fail func(op, key string) error
}

func newCountingStore(s checkpoint.Store) *countingStore {
	return &countingStore{Store: s, calls: map[string]int{}, created: map[string]int{}}
}

func (c *countingStore) count(op, key string) error {
	c.mu.Lock()
	c.calls[op]++
	f := c.fail
	c.mu.Unlock()
	if f != nil {
		return f(op, key)
	}
	return nil
}

func (c *countingStore) snapshot() (calls map[string]int, created map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls, created = map[string]int{}, map[string]int{}
	for k, v := range c.calls {
		calls[k] = v
	}
	for k, v := range c.created {
		created[k] = v
	}
	return calls, created
}

func (c *countingStore) ListLeases(ctx context.Context) ([]checkpoint.Lease, error) {
	if err := c.count("ListLeases", ""); err != nil {
		return nil, err
	}
	return c.Store.ListLeases(ctx)
}

func (c *countingStore) GetLease(ctx context.Context, key string) (checkpoint.Lease, error) {
	if err := c.count("GetLease", key); err != nil {
		return checkpoint.Lease{}, err
	}
	return c.Store.GetLease(ctx, key)
}

func (c *countingStore) CreateLease(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	if err := c.count("CreateLease", l.Key); err != nil {
		return checkpoint.Lease{}, err
	}
	nl, err := c.Store.CreateLease(ctx, l)
	if err == nil {
		c.mu.Lock()
		c.created[l.Key]++
		c.mu.Unlock()
	}
	return nl, err
}

func (c *countingStore) RenewLease(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	if err := c.count("RenewLease", l.Key); err != nil {
		return checkpoint.Lease{}, err
	}
	return c.Store.RenewLease(ctx, l)
}

func (c *countingStore) TakeLease(ctx context.Context, l checkpoint.Lease, owner string) (checkpoint.Lease, error) {
	if err := c.count("TakeLease", l.Key); err != nil {
		return checkpoint.Lease{}, err
	}
	return c.Store.TakeLease(ctx, l, owner)
}

func (c *countingStore) ReleaseLease(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	if err := c.count("ReleaseLease", l.Key); err != nil {
		return checkpoint.Lease{}, err
	}
	return c.Store.ReleaseLease(ctx, l)
}

func (c *countingStore) Checkpoint(ctx context.Context, l checkpoint.Lease, cp checkpoint.ExtendedSequenceNumber) (checkpoint.Lease, error) {
	if err := c.count("Checkpoint", l.Key); err != nil {
		return checkpoint.Lease{}, err
	}
	return c.Store.Checkpoint(ctx, l, cp)
}

func (c *countingStore) UpdateShardInfo(ctx context.Context, l checkpoint.Lease) error {
	if err := c.count("UpdateShardInfo", l.Key); err != nil {
		return err
	}
	return c.Store.UpdateShardInfo(ctx, l)
}

func (c *countingStore) DeleteLease(ctx context.Context, key string) error {
	if err := c.count("DeleteLease", key); err != nil {
		return err
	}
	return c.Store.DeleteLease(ctx, key)
}

// EnsureTable forwards to the wrapped store when it has one.
func (c *countingStore) EnsureTable(ctx context.Context) error {
	if et, ok := c.Store.(tableEnsurer); ok {
		return et.EnsureTable(ctx)
	}
	return nil
}

var errInjected = errors.New("injected store failure")
