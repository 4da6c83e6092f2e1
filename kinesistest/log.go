package kinesistest

import "sort"

// logChunkBits sets the records per chunk of a recordLog (1024).
const logChunkBits = 10

// recordLog is a shard's append-only list of records, stored in fixed-size
// chunks so that appending never copies what is already stored (a plain slice
// spent most of a long benchmark in memmove while growing), and so that
// retention can drop whole chunks. Indexes are logical: they do not change
// when chunks are dropped; first is the oldest index still held.
type recordLog struct {
	chunks  []*[1 << logChunkBits]record
	dropped int // chunks dropped from the front
	n       int
}

func (l *recordLog) len() int { return l.n }

// first is the index of the oldest record held.
func (l *recordLog) first() int { return l.dropped << logChunkBits }

func (l *recordLog) at(i int) *record {
	return &l.chunks[i>>logChunkBits-l.dropped][i&(1<<logChunkBits-1)]
}

func (l *recordLog) append(r record) {
	if l.n>>logChunkBits == l.dropped+len(l.chunks) {
		l.chunks = append(l.chunks, new([1 << logChunkBits]record))
	}
	*l.at(l.n) = r
	l.n++
}

// dropBefore frees the chunks whose records all have indexes below i.
func (l *recordLog) dropBefore(i int) {
	k := i>>logChunkBits - l.dropped
	if k <= 0 {
		return
	}
	for j := range k {
		l.chunks[j] = nil
	}
	l.chunks = l.chunks[k:]
	l.dropped += k
}

// search returns the smallest index i >= first() for which f(record i) is
// true, or len(), assuming f is false then true over the log (like
// sort.Search).
func (l *recordLog) search(f func(*record) bool) int {
	lo := l.first()
	return lo + sort.Search(l.n-lo, func(i int) bool { return f(l.at(lo + i)) })
}
