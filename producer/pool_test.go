package producer

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestURecSlicesGrowThroughClasses(t *testing.T) {
	var s urecSlices
	var recs []urec
	var caps []int
	for i := range 600 {
		recs = s.grow(recs)
		if len(caps) == 0 || caps[len(caps)-1] != cap(recs) {
			caps = append(caps, cap(recs))
		}
		recs = append(recs, urec{rec: Record{PartitionKey: fmt.Sprint(i)}})
	}
	assert.Equal(t, []int{8, 64, 512, 4096}, caps)
	for i := range recs {
		require.Equal(t, fmt.Sprint(i), recs[i].rec.PartitionKey, "records kept in order across moves")
	}
	// The outgrown slices were kept, cleared, one per class.
	for i, want := range []int{8, 64, 512} {
		require.Len(t, s.classes[i].items, 1, "class %d", want)
		v := s.classes[i].items[0]
		assert.Equal(t, want, cap(v))
		assert.Empty(t, v)
		for _, u := range v[:cap(v)] {
			require.Equal(t, urec{}, u, "a kept slice must not pin records")
		}
	}
	s.put(recs)
	got := s.get(600)
	assert.Equal(t, 4096, cap(got), "reused from the top class")
	for _, u := range got[:cap(got)] {
		require.Equal(t, urec{}, u)
	}
	// Too small for any class: dropped, not kept.
	s.put(make([]urec, 3))
	assert.Len(t, s.classes[0].items, 1)
}

func TestGetDataReusesOnlyFullSizeBuffers(t *testing.T) {
	p := &Producer{}
	p.opts.AggregationMaxSize = 1000
	small := p.getData(100)
	assert.Equal(t, 100, cap(*small), "a small aggregate gets an exact buffer")
	p.putData(small)
	assert.Empty(t, p.data.items, "small buffers are not kept")
	big := p.getData(600)
	assert.Equal(t, 1000, cap(*big))
	*big = append(*big, 1, 2, 3)
	p.putData(big)
	again := p.getData(900)
	assert.Same(t, big, again)
	assert.Empty(t, *again)
}
