package kinesisfake

import "sort"

// logChunkBits sets the records per chunk of a recordLog (1024).
const logChunkBits = 10

// recordLog is a shard's append-only list of records, stored in fixed-size
// chunks so that appending never copies what is already stored (a plain slice
// spent most of a long benchmark in memmove while growing).
type recordLog struct {
	chunks []*[1 << logChunkBits]record
	n      int
}

func (l *recordLog) len() int { return l.n }

func (l *recordLog) at(i int) *record {
	return &l.chunks[i>>logChunkBits][i&(1<<logChunkBits-1)]
}

func (l *recordLog) append(r record) {
	if l.n>>logChunkBits == len(l.chunks) {
		l.chunks = append(l.chunks, new([1 << logChunkBits]record))
	}
	*l.at(l.n) = r
	l.n++
}

// search returns the smallest index i for which f(record i) is true, assuming
// f is false then true over the log (like sort.Search).
func (l *recordLog) search(f func(*record) bool) int {
	return sort.Search(l.n, func(i int) bool { return f(l.at(i)) })
}
