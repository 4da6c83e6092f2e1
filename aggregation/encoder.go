package aggregation

import (
	"crypto/md5"
	"hash/maphash"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Encoder sizes and encodes one KPL aggregated record from the keys and data
// lengths of its user records, without holding the records themselves. It is
// the engine of Aggregator, exported for producers that keep their own records
// (with their callbacks, timestamps, ...) and want to encode straight from them
// into reused buffers, with no copy of the records and no allocation per
// aggregate. Most callers want Aggregator, which holds the records and builds
// the KinesisRecord to send.
//
// Use: Add (or AddHashed) each record in order while it fits, then AppendTo
// with a function returning each record's data, then Reset to start the next
// aggregate. Create it with NewEncoder; it is not safe for concurrent use.
// Reset keeps its tables, so reusing one Encoder allocates nothing in steady
// state.
type Encoder struct {
	maxSize, maxCount int

	pks, ehks keyTable // deduplicated partition and explicit hash keys
	entries   []entry  // one per record, in order
	body      int      // exact size of the protobuf AggregatedRecord encoding
}

// entry is what AppendTo needs about a record besides its data.
type entry struct {
	pk, ehk int32 // table indexes; ehk is -1 when the record has no ExplicitHashKey
	inner   int32 // size of the encoded Record message, without its tag and length
	data    int32 // length of the record's data
}

// NewEncoder returns an Encoder whose aggregates hold at most maxCount records
// and at most maxSize encoded bytes, magic prefix and MD5 suffix included, with
// the defaults of NewAggregator: maxSize <= 0 means DefaultMaxSize and
// maxCount <= 0 means DefaultMaxCount. maxSize is capped at 2^31-1 (protobuf's
// own limit).
func NewEncoder(maxSize, maxCount int) *Encoder {
	e := &Encoder{}
	e.init(maxSize, maxCount)
	return e
}

func (e *Encoder) init(maxSize, maxCount int) {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if maxCount <= 0 {
		maxCount = DefaultMaxCount
	}
	// Capping the size bounds every length and table index below 2^31.
	e.maxSize = min(maxSize, math.MaxInt32)
	e.maxCount = maxCount
}

// Len returns the number of records added since the last Reset.
func (e *Encoder) Len() int { return len(e.entries) }

// Size returns the exact length of what AppendTo appends (magic + protobuf +
// MD5), or 0 when no record was added.
func (e *Encoder) Size() int {
	if len(e.entries) == 0 {
		return 0
	}
	return overhead + e.body
}

// SizeWith returns what Size would be after adding a record with these keys and
// data length, whether or not it fits.
func (e *Encoder) SizeWith(pk, ehk string, dataLen int) int {
	_, _, _, grow, _ := e.cost(pk, keyHash(pk), ehk, dataLen)
	return overhead + e.body + grow
}

// Add accounts for a record with partition key pk, explicit hash key ehk (""
// for none) and dataLen bytes of data if the aggregate still fits: Size after
// adding within maxSize and Len within maxCount. It returns false and changes
// nothing otherwise; a record too big for even an empty aggregate is refused
// too, and should be sent alone. Keys are tabled once per aggregate however
// many records share them. Keys are not validated here.
func (e *Encoder) Add(pk, ehk string, dataLen int) bool {
	return e.AddHashed(pk, keyHash(pk), ehk, dataLen)
}

// AddHashed is Add for a caller that already has a hash of pk, which saves
// hashing the key again to find it in the key table: a producer that has just
// computed the key's MD5 to choose a shard can pass its low half
// (HashKey(pk).Lo). Any 64-bit hash works, as long as equal keys get equal
// hashes within one aggregate (do not mix it with Add, which uses its own
// hash); a poor hash only slows the lookup down, and a wrong one only tables a
// key twice (a valid, slightly bigger encoding), never mixes two keys up.
func (e *Encoder) AddHashed(pk string, pkHash uint64, ehk string, dataLen int) bool {
	if len(e.entries) >= e.maxCount {
		return false
	}
	pkIdx, ehkIdx, ehkHash, grow, inner := e.cost(pk, pkHash, ehk, dataLen)
	if overhead+e.body+grow > e.maxSize {
		return false
	}
	if pkIdx < 0 {
		pkIdx = e.pks.add(pk, pkHash)
	}
	if ehkIdx < 0 && ehk != "" {
		ehkIdx = e.ehks.add(ehk, ehkHash)
	}
	e.entries = append(e.entries, entry{pk: pkIdx, ehk: ehkIdx, inner: int32(inner), data: int32(dataLen)})
	e.body += grow
	return true
}

// cost is what adding a record would do: its table indexes (-1 for a key not
// yet tabled, and for no explicit hash key), the explicit hash key's hash (to
// table it without hashing again), how many bytes the protobuf encoding grows
// by, and the inner Record size.
func (e *Encoder) cost(pk string, pkHash uint64, ehk string, dataLen int) (pkIdx, ehkIdx int32, ehkHash uint64, grow, inner int) {
	pkIdx, ehkIdx = e.pks.find(pk, pkHash), -1
	idx := pkIdx
	if idx < 0 {
		idx = int32(len(e.pks.keys))
		grow += keySize(pk)
	}
	inner = 1 + protowire.SizeVarint(uint64(idx))
	if ehk != "" {
		ehkHash = keyHash(ehk)
		ehkIdx = e.ehks.find(ehk, ehkHash)
		idx := ehkIdx
		if idx < 0 {
			idx = int32(len(e.ehks.keys))
			grow += keySize(ehk)
		}
		inner += 1 + protowire.SizeVarint(uint64(idx))
	}
	inner += 1 + protowire.SizeVarint(uint64(dataLen)) + dataLen
	grow += 1 + protowire.SizeVarint(uint64(inner)) + inner
	return pkIdx, ehkIdx, ehkHash, grow, inner
}

// keySize is the encoded size of a key table entry: tag, length, bytes.
func keySize(k string) int {
	return 1 + protowire.SizeVarint(uint64(len(k))) + len(k)
}

// One-byte tags of the key tables (AggregatedRecord fields 1 and 2); those of
// the records are in deaggregate.go.
const (
	tagPartitionKeyTable    = uint8(fieldPartitionKeyTable)<<3 | uint8(protowire.BytesType)
	tagExplicitHashKeyTable = uint8(fieldExplicitHashKeyTable)<<3 | uint8(protowire.BytesType)
)

// AppendTo appends the aggregated record of the records added (magic prefix,
// protobuf AggregatedRecord, MD5 suffix: exactly Size bytes) to dst and returns
// the extended slice; with enough capacity in dst it allocates nothing.
// data(i) must return the data of the i-th record added (from 0), of the
// length given to Add; AppendTo panics otherwise, as the encoding would be
// corrupt. With no record added it returns dst unchanged. The Encoder is left
// as it was: call Reset before the next aggregate.
func (e *Encoder) AppendTo(dst []byte, data func(i int) []byte) []byte {
	if len(e.entries) == 0 {
		return dst
	}
	b := append(dst, magic[:]...)
	start := len(b)
	for _, k := range e.pks.keys {
		b = append(b, tagPartitionKeyTable)
		b = protowire.AppendVarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	for _, k := range e.ehks.keys {
		b = append(b, tagExplicitHashKeyTable)
		b = protowire.AppendVarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	for i := range e.entries {
		en := &e.entries[i]
		b = append(b, tagRecords)
		b = protowire.AppendVarint(b, uint64(en.inner))
		// Fields 1 and 3 are proto2 "required": written even when zero or empty,
		// or the Java KCL fails to parse and delivers the blob as one raw record.
		b = append(b, tagPartitionKeyIndex)
		b = protowire.AppendVarint(b, uint64(en.pk))
		if en.ehk >= 0 {
			b = append(b, tagExplicitHashKeyIndex)
			b = protowire.AppendVarint(b, uint64(en.ehk))
		}
		d := data(i)
		if len(d) != int(en.data) {
			panic("aggregation: Encoder.AppendTo: data(i) is not the length given to Add")
		}
		b = append(b, tagData)
		b = protowire.AppendVarint(b, uint64(len(d)))
		b = append(b, d...)
	}
	sum := md5.Sum(b[start:])
	return append(b, sum[:]...)
}

// Reset empties the Encoder for the next aggregate, keeping its limits and its
// tables' memory. Keys are cleared so that the records they came from can be
// freed.
func (e *Encoder) Reset() {
	e.pks.reset()
	e.ehks.reset()
	e.entries = e.entries[:0]
	e.body = 0
}

// keySeed seeds the hash of keys in Add; any seed works, the encoding does not
// depend on it.
var keySeed = maphash.MakeSeed()

func keyHash(k string) uint64 { return maphash.String(keySeed, k) }

// keyTable is a table of distinct keys in order of first use, with an
// open-addressing index from the keys' hashes: cheaper than a map when the
// caller already has a hash, and reset with one clear.
type keyTable struct {
	keys  []string
	slots []keySlot // a power of two long, at most half full; nil until used
}

type keySlot struct {
	hash uint64
	idx  int32 // index in keys + 1; 0 marks a free slot
}

// find returns k's index in the table, or -1.
func (t *keyTable) find(k string, h uint64) int32 {
	if len(t.keys) == 0 {
		return -1
	}
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.idx == 0 {
			return -1
		}
		if s.hash == h && t.keys[s.idx-1] == k {
			return s.idx - 1
		}
	}
}

// add tables k, which find did not find, and returns its index.
func (t *keyTable) add(k string, h uint64) int32 {
	if (len(t.keys)+1)*2 > len(t.slots) {
		old := t.slots
		t.slots = make([]keySlot, max(64, 2*len(old)))
		for _, s := range old {
			if s.idx != 0 {
				t.place(s)
			}
		}
	}
	idx := int32(len(t.keys))
	t.keys = append(t.keys, k)
	t.place(keySlot{hash: h, idx: idx + 1})
	return idx
}

func (t *keyTable) place(s keySlot) {
	mask := uint64(len(t.slots) - 1)
	i := s.hash & mask
	for t.slots[i].idx != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = s
}

func (t *keyTable) reset() {
	if len(t.keys) > 0 {
		clear(t.slots)
		clear(t.keys)
		t.keys = t.keys[:0]
	}
}
