package aggregation

import (
	"bytes"
	"crypto/md5"
	"errors"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// pb builds protobuf bytes from pieces: a []byte is written as is, and
// field(...) helpers produce tag+value.
func pb(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func bytesField(num protowire.Number, v []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
}

func varintField(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
}

func record(fields ...[]byte) []byte { return bytesField(3, pb(fields...)) }

func TestDeaggregateReturnsNonAggregatedDataAsOneRecord(t *testing.T) {
	body := pb(bytesField(1, []byte("k")), record(varintField(1, 0), bytesField(3, []byte("x"))))
	valid := wrap(body)
	badMagic := bytes.Clone(valid)
	badMagic[0] ^= 1
	badSum := bytes.Clone(valid)
	badSum[len(badSum)-1] ^= 1
	badBody := bytes.Clone(valid)
	badBody[5] ^= 1
	emptyBody := wrap(nil) // exactly 20 bytes: KCL wants more than 16 after the magic
	sum := md5.Sum(body)
	noMagic := append(bytes.Clone(body), sum[:]...)

	tests := map[string][]byte{
		"nil":                nil,
		"empty":              {},
		"shorter than magic": magic[:3],
		"magic only":         magic[:],
		"magic + 16 bytes":   emptyBody,
		"wrong magic":        badMagic,
		"wrong MD5":          badSum,
		"corrupted body":     badBody,
		"no magic":           noMagic,
		"plain text":         []byte("just a record"),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			if IsAggregated(data) {
				t.Fatal("IsAggregated = true")
			}
			recs, err := Deaggregate(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 || recs[0].PartitionKey != "" || recs[0].ExplicitHashKey != "" || !bytes.Equal(recs[0].Data, data) {
				t.Fatalf("got %+v, want data unchanged as one record", recs)
			}
			if len(data) > 0 && &recs[0].Data[0] != &data[0] {
				t.Fatal("data was copied")
			}
		})
	}
	if !IsAggregated(valid) {
		t.Fatal("the valid aggregate was not recognised")
	}
}

func TestDeaggregateRejectsMalformedProtobufWithValidChecksum(t *testing.T) {
	pk := bytesField(1, []byte("k"))
	data := bytesField(3, []byte("x"))
	idx0 := varintField(1, 0)
	tests := map[string][]byte{
		"truncated tag":                     {0x80},
		"field number 0":                    {0x02, 0x00},
		"truncated table key":               pb(pk, []byte{0x0a, 5, 'a', 'b'}),
		"table key with varint wire type":   pb(varintField(1, 3), record(idx0, data)),
		"ehk table with varint wire type":   pb(pk, varintField(2, 3), record(idx0, data)),
		"records with varint wire type":     pb(pk, varintField(3, 1)),
		"records with fixed32 wire type":    pb(pk, []byte{0x1d, 1, 2, 3, 4}),
		"record length past end":            pb(pk, []byte{0x1a, 10, 0x08, 0}),
		"truncated unknown field":           pb(pk, []byte{0x22, 5, 1}),
		"unterminated group":                pb(pk, []byte{0x23, 0x08, 1}),
		"missing partition key index":       pb(pk, record(data)),
		"missing data":                      pb(pk, record(idx0)),
		"missing both required fields":      pb(pk, record()),
		"partition key index out of range":  pb(pk, record(varintField(1, 1), data)),
		"no partition key table":            pb(record(idx0, data)),
		"huge partition key index":          pb(pk, record(varintField(1, 1<<63), data)),
		"ehk index without ehk table":       pb(pk, record(idx0, varintField(2, 0), data)),
		"ehk index out of range":            pb(pk, bytesField(2, []byte("1")), record(idx0, varintField(2, 1), data)),
		"partition key index as bytes":      pb(pk, record(bytesField(1, []byte{0}), data)),
		"ehk index as bytes":                pb(pk, bytesField(2, []byte("1")), record(idx0, bytesField(2, []byte{0}), data)),
		"data as varint":                    pb(pk, record(idx0, varintField(3, 1))),
		"tags as varint":                    pb(pk, record(idx0, data, varintField(4, 1))),
		"truncated index varint":            pb(pk, record([]byte{0x08, 0x80})),
		"data length past record end":       pb(pk, record(idx0, []byte{0x1a, 3, 'x'})),
		"truncated unknown field in record": pb(pk, record(idx0, data, []byte{0x2a, 9})),
		"bad second record":                 pb(pk, record(idx0, data), record(data)),
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			in := wrap(body)
			if !IsAggregated(in) {
				t.Fatal("test input must have a valid checksum")
			}
			recs, err := Deaggregate(in)
			if !errors.Is(err, ErrMalformed) || recs != nil {
				t.Fatalf("got %d records, err %v; want ErrMalformed", len(recs), err)
			}
		})
	}
}

func TestDeaggregateSkipsTagsAndUnknownFields(t *testing.T) {
	tag := bytesField(4, pb(bytesField(1, []byte("tk")), bytesField(2, []byte("tv"))))
	body := pb(
		varintField(7, 99),          // unknown outer varint
		[]byte{0x2b, 0x08, 1, 0x2c}, // unknown outer group {1: 1}
		bytesField(1, []byte("k0")),
		record(varintField(9, 5), varintField(1, 0), tag, bytesField(3, []byte("a")), tag),
		[]byte{0x45, 1, 2, 3, 4}, // unknown outer fixed32
		record(varintField(1, 0), bytesField(3, []byte("b")), []byte{0x59, 1, 2, 3, 4, 5, 6, 7, 8}),
	)
	recs, err := Deaggregate(wrap(body))
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, recs, []UserRecord{{PartitionKey: "k0", Data: []byte("a")}, {PartitionKey: "k0", Data: []byte("b")}})
}

func TestDeaggregateResolvesTablesInAnyFieldOrder(t *testing.T) {
	// Tables may follow or interleave with records on the wire.
	body := pb(
		record(varintField(1, 1), varintField(2, 0), bytesField(3, []byte("first"))),
		bytesField(2, []byte("123")),
		bytesField(1, []byte("p0")),
		record(bytesField(3, []byte("second")), varintField(1, 0)), // fields out of order
		bytesField(1, []byte("p1")),
		// a repeated scalar: the last value wins, as in any protobuf parser
		record(varintField(1, 0), bytesField(3, []byte("x")), varintField(1, 1), bytesField(3, []byte("third"))),
	)
	recs, err := Deaggregate(wrap(body))
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, recs, []UserRecord{
		{PartitionKey: "p1", ExplicitHashKey: "123", Data: []byte("first")},
		{PartitionKey: "p0", Data: []byte("second")},
		{PartitionKey: "p1", Data: []byte("third")},
	})
}

func TestDeaggregateWithoutRecordsReturnsNone(t *testing.T) {
	recs, err := Deaggregate(wrap(bytesField(1, []byte("unused key"))))
	if err != nil || len(recs) != 0 {
		t.Fatalf("got %d records, %v; want none", len(recs), err)
	}
}

func TestDeaggregateDataAliasesInputWithCappedCapacity(t *testing.T) {
	a := NewAggregator(0, 0)
	a.Add(UserRecord{PartitionKey: "a", Data: []byte("one")})
	a.Add(UserRecord{PartitionKey: "b", Data: []byte("two")})
	kr, _ := a.Drain()
	recs, err := Deaggregate(kr.Data)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(kr.Data, []byte("one"))
	if &recs[0].Data[0] != &kr.Data[i] {
		t.Fatal("Data was copied; want a sub-slice of the input")
	}
	if cap(recs[0].Data) != len(recs[0].Data) {
		t.Fatal("an append to one record's Data could overwrite the next bytes of the input")
	}
}
