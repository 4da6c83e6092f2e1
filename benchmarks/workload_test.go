package benchmarks

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
)

// The workload of every producer and consumer comparison: 100-byte records
// whose 16-character partition keys are drawn from 1,000 keys.
const (
	recordSize = 100
	keyCount   = 1000
)

// userRecord is one record put by a benchmark. The first 8 bytes of data are
// its index, so that a record read back identifies itself.
type userRecord struct {
	pk   string
	data []byte
}

// newWorkload returns n records with distinct data (see userRecord).
func newWorkload(n int) []userRecord {
	rng := rand.New(rand.NewPCG(7, 7))
	keys := make([]string, keyCount)
	for i := range keys {
		keys[i] = fmt.Sprintf("%016x", rng.Uint64())
	}
	arena := make([]byte, n*recordSize)
	recs := make([]userRecord, n)
	for i := range recs {
		d := arena[i*recordSize : (i+1)*recordSize : (i+1)*recordSize]
		for j := 8; j < len(d); j++ {
			d[j] = byte(rng.Uint32())
		}
		binary.BigEndian.PutUint64(d, uint64(i))
		recs[i] = userRecord{pk: keys[rng.IntN(len(keys))], data: d}
	}
	return recs
}

// recordIndex returns the index written into a workload record's data.
func recordIndex(data []byte) (int, bool) {
	if len(data) != recordSize {
		return 0, false
	}
	i := binary.BigEndian.Uint64(data)
	return int(i), i < 1<<40
}

// putPool is the records the timed producer loops cycle through: enough
// distinct keys and data for realistic aggregation, without holding b.N
// records (which would dominate the peak heap).
const putPool = 1 << 16

var sharedPool = sync.OnceValue(func() []userRecord { return newWorkload(putPool) })
