package sink

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// condDest is a memDest with conditional writes; beforePut runs before each
// conditional write is checked (to let "another worker" write in between).
type condDest struct {
	*memDest
	once      sync.Once
	beforePut func()
}

func (d *condDest) GetVersion(ctx context.Context, name string) ([]byte, string, error) {
	b, err := d.Get(ctx, name)
	if err != nil {
		return nil, "", err
	}
	return b, contentVersion(b), nil
}

func (d *condDest) PutIfVersion(ctx context.Context, name string, body []byte, version string) error {
	if d.beforePut != nil {
		d.once.Do(d.beforePut)
	}
	d.mu.Lock()
	cur, ok := d.objects[name]
	d.mu.Unlock()
	if (ok && contentVersion(cur) != version) || (!ok && version != "") {
		return ErrConflict
	}
	return d.Put(ctx, name, body)
}

func testConditional(t *testing.T, d ConditionalDestination) {
	t.Helper()
	ctx := context.Background()
	if err := d.PutIfVersion(ctx, "s/x.json", []byte("one"), ""); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := d.PutIfVersion(ctx, "s/x.json", []byte("two"), ""); !errors.Is(err, ErrConflict) {
		t.Fatalf("second create: %v, want ErrConflict", err)
	}
	b, v, err := d.GetVersion(ctx, "s/x.json")
	if err != nil || string(b) != "one" {
		t.Fatalf("GetVersion: %q, %v", b, err)
	}
	if err := d.PutIfVersion(ctx, "s/x.json", []byte("three"), v); err != nil {
		t.Fatalf("replace at the version read: %v", err)
	}
	if err := d.PutIfVersion(ctx, "s/x.json", []byte("four"), v); !errors.Is(err, ErrConflict) {
		t.Fatalf("replace at an old version: %v, want ErrConflict", err)
	}
	if b, _, _ := d.GetVersion(ctx, "s/x.json"); string(b) != "three" {
		t.Errorf("object %q, want three", b)
	}
	if _, _, err := d.GetVersion(ctx, "s/none.json"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetVersion of a missing object: %v", err)
	}
}

func TestDirConditionalWrites(t *testing.T) {
	testConditional(t, NewDir(t.TempDir()).(ConditionalDestination))
}

func TestS3ConditionalWrites(t *testing.T) {
	l := newLocalS3(t, "archive")
	testConditional(t, NewS3(l.Client, "archive").(ConditionalDestination))
}

// Two workers record a cut for the same batch at the same moment: the conditional write
// of the second fails, it reads the state again and follows the first one's cut.
func TestSimultaneousCutsConverge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dest := &condDest{memDest: newMemDest()}
		b := newTestProcessor(t, dest, checkpoint.PositionTrimHorizon)
		dest.beforePut = func() {
			// The other worker records its cut after b read the state, before b writes.
			other, _ := json.Marshal(intent{
				Start: toPosition(checkpoint.PositionTrimHorizon), First: position{Seq: seq(1)}, Last: position{Seq: seq(2)},
			})
			if err := dest.memDest.Put(context.Background(), b.s.intentName(testShard), other); err != nil {
				t.Error(err)
			}
		}
		cp := &fakeCheckpointer{}
		process(t, b, cp, recs(1, 5, nil))
		time.Sleep(time.Minute)
		synctest.Wait()
		want := []string{"p/2018/08/27/10/s-" + testShard + "-" + seq(1) + "-" + seq(2) + ".json"}
		if names := dest.names(); !slices.Equal(names, want) {
			t.Fatalf("objects %q, want the other worker's cut %q", names, want)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := recordsIn(t, dest.dataObjects()); len(got) != 5 {
			t.Errorf("records %q, want 1-5 once", got)
		}
	})
}
