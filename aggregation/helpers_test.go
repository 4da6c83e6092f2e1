package aggregation

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"math/rand/v2"
	"testing"
)

// wrap frames protobuf bytes as an aggregated record: magic, bytes, MD5.
func wrap(pb []byte) []byte {
	sum := md5.Sum(pb)
	out := append(append(magic[:len(magic):len(magic)], pb...), sum[:]...)
	return out
}

// randomRecords returns n records drawn so that keys repeat (exercising table
// dedupe), some records have explicit hash keys, and data lengths cross the
// varint size boundaries (127/128, 16383/16384).
func randomRecords(rng *rand.Rand, n int) []UserRecord {
	nKeys := 1 + rng.IntN(2*n+1)
	recs := make([]UserRecord, n)
	for i := range recs {
		r := UserRecord{PartitionKey: fmt.Sprintf("pk-%d-%s", rng.IntN(nKeys), randomString(rng, rng.IntN(20)))}
		if rng.IntN(4) == 0 {
			r.ExplicitHashKey = Hash128{Hi: rng.Uint64() >> rng.UintN(64), Lo: rng.Uint64()}.String()
			if rng.IntN(2) == 0 {
				r.ExplicitHashKey = fmt.Sprint(rng.IntN(4)) // repeats
			}
		}
		var size int
		switch rng.IntN(10) {
		case 0:
			size = 0
		case 1:
			size = 126 + rng.IntN(4)
		case 2:
			size = 16382 + rng.IntN(4)
		default:
			size = rng.IntN(300)
		}
		r.Data = make([]byte, size)
		for j := range r.Data {
			r.Data[j] = byte(rng.Uint32())
		}
		recs[i] = r
	}
	return recs
}

func randomString(rng *rand.Rand, n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_é€"
	b := make([]byte, 0, n)
	for range n {
		b = append(b, alphabet[rng.IntN(len(alphabet))])
	}
	return string(b)
}

// sameRecords fails t unless got and want hold the same records in order;
// nil and empty Data are the same.
func sameRecords(t testing.TB, got, want []UserRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.PartitionKey != w.PartitionKey || g.ExplicitHashKey != w.ExplicitHashKey || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("record %d: got {PK %q EHK %q %d bytes}, want {PK %q EHK %q %d bytes}",
				i, g.PartitionKey, g.ExplicitHashKey, len(g.Data), w.PartitionKey, w.ExplicitHashKey, len(w.Data))
		}
	}
}
