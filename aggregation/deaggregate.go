package aggregation

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// ErrMalformed is wrapped by Deaggregate's errors: the data has the magic prefix
// and a valid MD5, so it was meant to be an aggregate, but its protobuf content
// does not follow the KPL schema.
var ErrMalformed = errors.New("aggregation: malformed aggregated record")

// IsAggregated reports whether data is a KPL aggregated record by the rules the
// KCL applies: at least 4 bytes, the magic prefix, more than 16 bytes after it,
// and an MD5 suffix that matches the bytes between prefix and suffix.
// Deaggregate makes this check itself; calling both hashes the data twice.
func IsAggregated(data []byte) bool {
	if len(data) <= overhead || !bytes.Equal(data[:len(magic)], magic[:]) {
		return false
	}
	sum := md5.Sum(data[len(magic) : len(data)-md5.Size])
	return bytes.Equal(sum[:], data[len(data)-md5.Size:])
}

// Deaggregate returns the user records in data. If data is not an aggregated
// record (see IsAggregated) it is returned unchanged as one record with empty
// PartitionKey and ExplicitHashKey: the caller knows the Kinesis record's own keys.
//
// The sub-records of an aggregate are returned in order; a record's index is its
// subsequence number. Their Data share data's memory (no copy, capacity capped so
// an append cannot overwrite a neighbour). Keys are resolved from the aggregate's
// tables and are not validated. Tags and unknown fields are skipped; an aggregate
// without records yields none. An aggregate whose protobuf does not follow the
// schema (truncated, wrong wire type, missing required field, table index out of
// range) yields an error wrapping ErrMalformed and no records.
//
// The result costs three allocations per aggregate whatever its size: the
// records, their keys (one string), and the key table.
func Deaggregate(data []byte) ([]UserRecord, error) {
	if !IsAggregated(data) {
		return []UserRecord{{Data: data}}, nil
	}
	msg := data[len(magic) : len(data)-md5.Size]

	// First pass: validate the outer message, count table entries and records
	// and size the keys, so that what follows fills exactly sized slices: a few
	// allocations per aggregate, none per record.
	var nPK, nEHK, nRec, keyBytes, tablesEnd int
	firstRecord := len(msg)
	for i := 0; i < len(msg); {
		start := i
		num, typ, n := shortTag(msg[i:])
		if n == 0 {
			num, typ, n = protowire.ConsumeTag(msg[i:])
		}
		if n < 0 {
			return nil, malformed("field tag", n)
		}
		i += n
		switch num {
		case fieldPartitionKeyTable, fieldExplicitHashKeyTable, fieldRecords:
			if typ != protowire.BytesType {
				return nil, fmt.Errorf("%w: field %d has wire type %d, want bytes", ErrMalformed, num, typ)
			}
			v, n := shortBytes(msg[i:])
			if n == 0 {
				v, n = protowire.ConsumeBytes(msg[i:])
			}
			if n < 0 {
				return nil, malformed(fmt.Sprintf("field %d", num), n)
			}
			i += n
			switch num {
			case fieldPartitionKeyTable:
				nPK++
				keyBytes += len(v)
				tablesEnd = i
			case fieldExplicitHashKeyTable:
				nEHK++
				keyBytes += len(v)
				tablesEnd = i
			default:
				if nRec == 0 {
					firstRecord = start
				}
				nRec++
			}
		default:
			n := protowire.ConsumeFieldValue(num, typ, msg[i:])
			if n < 0 {
				return nil, malformed(fmt.Sprintf("unknown field %d", num), n)
			}
			i += n
		}
	}

	// Second pass, over the part holding the tables (KPL writes them first):
	// collect the keys into one string. Table entries are substrings of it, so
	// keys cost one allocation per aggregate, not one per table entry. They are
	// copied rather than aliasing data: a string must not change if the caller
	// reuses its buffer.
	var sb strings.Builder
	sb.Grow(keyBytes)
	spans := make([]span, nPK+nEHK) // partition keys first, then explicit hash keys
	nextPK, nextEHK := 0, nPK
	for b := msg[:tablesEnd]; len(b) > 0; {
		// The first pass validated the structure: no error checks needed.
		num, typ, n := consumeTag(b)
		b = b[n:]
		if num != fieldPartitionKeyTable && num != fieldExplicitHashKeyTable {
			b = b[protowire.ConsumeFieldValue(num, typ, b):]
			continue
		}
		v, n := consumeBytes(b)
		b = b[n:]
		s := span{off: uint32(sb.Len()), end: uint32(sb.Len() + len(v))}
		sb.Write(v)
		if num == fieldPartitionKeyTable {
			spans[nextPK] = s
			nextPK++
		} else {
			spans[nextEHK] = s
			nextEHK++
		}
	}
	t := tables{keys: sb.String(), pk: spans[:nPK], ehk: spans[nPK:]}

	recs := make([]UserRecord, nRec)
	next := 0
	for b := msg[firstRecord:]; len(b) > 0; {
		// The fast path for the common case; the first pass validated the rest.
		if v, n := shortBytes(b[1:]); b[0] == tagRecords && n > 0 {
			if err := t.parseRecord(v, &recs[next]); err != nil {
				return nil, fmt.Errorf("%w: record %d: %v", ErrMalformed, next, err)
			}
			next++
			b = b[1+n:]
			continue
		}
		num, typ, n := consumeTag(b)
		b = b[n:]
		if num != fieldRecords {
			b = b[protowire.ConsumeFieldValue(num, typ, b):]
			continue
		}
		v, n := consumeBytes(b)
		b = b[n:]
		if err := t.parseRecord(v, &recs[next]); err != nil {
			return nil, fmt.Errorf("%w: record %d: %v", ErrMalformed, next, err)
		}
		next++
	}
	return recs, nil
}

// span locates a key table entry in tables.keys. 32 bits suffice: keys come
// from one Kinesis record (at most 10 MiB).
type span struct{ off, end uint32 }

// tables resolves a Record's key indexes.
type tables struct {
	keys    string // every table entry, concatenated
	pk, ehk []span
}

// Tags of the Record fields with the wire types the schema gives them; KPL
// writes nothing else, so these one-byte values are the fast path.
const (
	tagRecords              = uint8(fieldRecords)<<3 | uint8(protowire.BytesType)
	tagPartitionKeyIndex    = uint8(fieldPartitionKeyIndex)<<3 | uint8(protowire.VarintType)
	tagExplicitHashKeyIndex = uint8(fieldExplicitHashKeyIndex)<<3 | uint8(protowire.VarintType)
	tagData                 = uint8(fieldData)<<3 | uint8(protowire.BytesType)
	tagTags                 = uint8(fieldTags)<<3 | uint8(protowire.BytesType)
)

// parseRecord decodes one Record message into r. r.Data aliases b.
func (t *tables) parseRecord(b []byte, r *UserRecord) error {
	// Fast path for what KPL writes: partition key index, then data, nothing
	// else. Anything different takes the general loop below.
	if len(b) > 2 && b[0] == tagPartitionKeyIndex {
		if v, n := shortVarint(b[1:]); n > 0 && v < uint64(len(t.pk)) && 1+n < len(b) && b[1+n] == tagData {
			if d, m := shortBytes(b[2+n:]); m > 0 && m == len(b)-2-n {
				s := t.pk[v]
				r.PartitionKey = t.keys[s.off:s.end]
				r.Data = d[:len(d):len(d)]
				return nil
			}
		}
	}
	var hasPK, hasData bool
	for len(b) > 0 {
		switch b[0] {
		case tagPartitionKeyIndex, tagExplicitHashKeyIndex:
			num := protowire.Number(b[0] >> 3)
			v, n := consumeVarint(b[1:])
			if n < 0 {
				return fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
			}
			b = b[1+n:]
			// A repeated scalar field is legal protobuf: the last value wins.
			if num == fieldPartitionKeyIndex {
				if v >= uint64(len(t.pk)) {
					return fmt.Errorf("partition key index %d out of range [0,%d)", v, len(t.pk))
				}
				s := t.pk[v]
				r.PartitionKey = t.keys[s.off:s.end]
				hasPK = true
			} else {
				if v >= uint64(len(t.ehk)) {
					return fmt.Errorf("explicit hash key index %d out of range [0,%d)", v, len(t.ehk))
				}
				s := t.ehk[v]
				r.ExplicitHashKey = t.keys[s.off:s.end]
			}
		case tagData, tagTags:
			tag := b[0]
			v, n := consumeBytes(b[1:])
			if n < 0 {
				return fmt.Errorf("field %d: %w", tag>>3, protowire.ParseError(n))
			}
			b = b[1+n:]
			if tag == tagData {
				r.Data = v[:len(v):len(v)]
				hasData = true
			}
			// Tags are never written by KPL and carry nothing we deliver; their
			// contents are not inspected.
		default:
			num, typ, n := protowire.ConsumeTag(b)
			if n < 0 {
				return fmt.Errorf("field tag: %w", protowire.ParseError(n))
			}
			if num >= fieldPartitionKeyIndex && num <= fieldTags {
				return fmt.Errorf("field %d has wire type %d", num, typ)
			}
			b = b[n:]
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("unknown field %d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	switch {
	case !hasPK:
		return errors.New("missing required partition_key_index")
	case !hasData:
		return errors.New("missing required data")
	}
	return nil
}

// consumeTag, consumeVarint and consumeBytes are the protowire functions with
// a fast path for the one- and two-byte varints that KPL aggregates are made
// of. The fast paths are separate so that they are inlined; they return n == 0
// when they do not apply.

func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	if num, typ, n := shortTag(b); n > 0 {
		return num, typ, n
	}
	return protowire.ConsumeTag(b)
}

func consumeVarint(b []byte) (uint64, int) {
	if v, n := shortVarint(b); n > 0 {
		return v, n
	}
	return protowire.ConsumeVarint(b)
}

func consumeBytes(b []byte) ([]byte, int) {
	if v, n := shortBytes(b); n > 0 {
		return v, n
	}
	return protowire.ConsumeBytes(b)
}

func shortTag(b []byte) (protowire.Number, protowire.Type, int) {
	if len(b) > 0 && b[0] < 0x80 && b[0] >= 1<<3 { // one byte, field number >= 1
		return protowire.Number(b[0] >> 3), protowire.Type(b[0] & 7), 1
	}
	return 0, 0, 0
}

func shortVarint(b []byte) (uint64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	if len(b) > 1 && b[1] < 0x80 {
		return uint64(b[0]&0x7f) | uint64(b[1])<<7, 2
	}
	return 0, 0
}

func shortBytes(b []byte) ([]byte, int) {
	if len(b) > 0 && b[0] < 0x80 && int(b[0]) < len(b) {
		n := 1 + int(b[0])
		return b[1:n], n
	}
	return nil, 0
}

// malformed describes a protobuf syntax error in the AggregatedRecord message.
func malformed(what string, n int) error {
	return fmt.Errorf("%w: %s: %v", ErrMalformed, what, protowire.ParseError(n))
}
