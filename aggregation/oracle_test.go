package aggregation

// An independent oracle: the KPL schema built at run time and handled by the
// reference protobuf implementation (dynamicpb), so our hand-written encoder and
// decoder are checked against code that shares nothing with them.

import (
	"bytes"
	"crypto/md5"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

type oracle struct {
	aggregated, record, tag protoreflect.MessageDescriptor
}

func newOracle(t testing.TB) oracle {
	t.Helper()
	field := func(name string, num int32, label descriptorpb.FieldDescriptorProto_Label, typ descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{
			Name:   proto.String(name),
			Number: proto.Int32(num),
			Label:  label.Enum(),
			Type:   typ.Enum(),
		}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	const (
		repeated = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
		required = descriptorpb.FieldDescriptorProto_LABEL_REQUIRED
		optional = descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
		str      = descriptorpb.FieldDescriptorProto_TYPE_STRING
		u64      = descriptorpb.FieldDescriptorProto_TYPE_UINT64
		byts     = descriptorpb.FieldDescriptorProto_TYPE_BYTES
		msg      = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	)
	file := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("kpl_oracle.proto"),
		Package: proto.String("oracle"),
		Syntax:  proto.String("proto2"),
		MessageType: []*descriptorpb.DescriptorProto{
			{
				Name: proto.String("AggregatedRecord"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("partition_key_table", 1, repeated, str, ""),
					field("explicit_hash_key_table", 2, repeated, str, ""),
					field("records", 3, repeated, msg, ".oracle.Record"),
				},
			},
			{
				Name: proto.String("Record"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("partition_key_index", 1, required, u64, ""),
					field("explicit_hash_key_index", 2, optional, u64, ""),
					field("data", 3, required, byts, ""),
					field("tags", 4, repeated, msg, ".oracle.Tag"),
				},
			},
			{
				Name: proto.String("Tag"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("key", 1, required, str, ""),
					field("value", 2, optional, str, ""),
				},
			},
		},
	}
	fd, err := protodesc.NewFile(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := fd.Messages()
	return oracle{aggregated: m.ByName("AggregatedRecord"), record: m.ByName("Record"), tag: m.ByName("Tag")}
}

func (o oracle) list(m protoreflect.Message, name protoreflect.Name) protoreflect.List {
	return m.Get(m.Descriptor().Fields().ByName(name)).List()
}

// decode parses an aggregate with the oracle, checking required fields, and
// resolves its records.
func (o oracle) decode(t testing.TB, data []byte) ([]UserRecord, *dynamicpb.Message) {
	t.Helper()
	if !bytes.Equal(data[:4], magic[:]) {
		t.Fatalf("no magic: % x", data[:4])
	}
	body, sum := data[4:len(data)-16], data[len(data)-16:]
	if want := md5.Sum(body); !bytes.Equal(sum, want[:]) {
		t.Fatal("MD5 suffix does not match the protobuf bytes")
	}
	m := dynamicpb.NewMessage(o.aggregated)
	if err := proto.Unmarshal(body, m); err != nil { // fails on missing required fields
		t.Fatalf("oracle cannot parse our encoding: %v", err)
	}
	pks, ehks, recs := o.list(m, "partition_key_table"), o.list(m, "explicit_hash_key_table"), o.list(m, "records")
	var out []UserRecord
	for i := range recs.Len() {
		r := recs.Get(i).Message()
		fields := r.Descriptor().Fields()
		u := UserRecord{
			PartitionKey: pks.Get(int(r.Get(fields.ByName("partition_key_index")).Uint())).String(),
			Data:         r.Get(fields.ByName("data")).Bytes(),
		}
		if f := fields.ByName("explicit_hash_key_index"); r.Has(f) {
			u.ExplicitHashKey = ehks.Get(int(r.Get(f).Uint())).String()
		}
		out = append(out, u)
	}
	return out, m
}

func TestOracleParsesOurEncoding(t *testing.T) {
	o := newOracle(t)
	rng := rand.New(rand.NewPCG(9, 10))
	for iter := range 200 {
		a := NewAggregator(1<<20, 0)
		var added []UserRecord
		for _, r := range randomRecords(rng, 2+rng.IntN(200)) {
			if a.Add(r) {
				added = append(added, r)
			}
		}
		if len(added) < 2 {
			continue
		}
		kr, _ := a.Drain()
		got, m := o.decode(t, kr.Data)
		sameRecords(t, got, added)

		// Tables hold each key once, in first-use order; EHKs only when given.
		wantPK, wantEHK := distinct(added, func(r UserRecord) string { return r.PartitionKey }), distinct(added, func(r UserRecord) string { return r.ExplicitHashKey })
		for name, want := range map[protoreflect.Name][]string{"partition_key_table": wantPK, "explicit_hash_key_table": wantEHK} {
			l := o.list(m, name)
			if l.Len() != len(want) {
				t.Fatalf("iter %d: %s has %d entries, want %d", iter, name, l.Len(), len(want))
			}
			for i, k := range want {
				if l.Get(i).String() != k {
					t.Fatalf("iter %d: %s[%d] = %q, want %q", iter, name, i, l.Get(i).String(), k)
				}
			}
		}
		// The reference marshaller writes fields in number order, as we do, so
		// re-encoding what it parsed must give our bytes exactly.
		again, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, kr.Data[4:len(kr.Data)-16]) {
			t.Fatalf("iter %d: oracle re-encoding differs from ours", iter)
		}
	}
}

func distinct(recs []UserRecord, key func(UserRecord) string) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range recs {
		if k := key(r); k != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

func TestDeaggregateReadsOracleEncoding(t *testing.T) {
	o := newOracle(t)
	rng := rand.New(rand.NewPCG(11, 12))
	for range 200 {
		want := randomRecords(rng, 1+rng.IntN(100))
		m := dynamicpb.NewMessage(o.aggregated)
		pks, ehks, recs := m.Mutable(o.aggregated.Fields().ByName("partition_key_table")).List(),
			m.Mutable(o.aggregated.Fields().ByName("explicit_hash_key_table")).List(),
			m.Mutable(o.aggregated.Fields().ByName("records")).List()
		// Unlike KPL, table keys are not deduplicated here and each record may
		// point at any copy, and records carry tags and unknown fields: a
		// decoder must cope with all of it.
		for _, u := range want {
			pks.Append(protoreflect.ValueOfString(u.PartitionKey))
			pkIdx := pks.Len() - 1
			switch rng.IntN(3) {
			case 0: // a duplicate entry; the record uses the second copy
				pks.Append(protoreflect.ValueOfString(u.PartitionKey))
				pkIdx++
			case 1: // an entry no record uses
				pks.Append(protoreflect.ValueOfString("decoy-" + u.PartitionKey))
			}
			r := dynamicpb.NewMessage(o.record)
			fields := o.record.Fields()
			r.Set(fields.ByName("partition_key_index"), protoreflect.ValueOfUint64(uint64(pkIdx)))
			if u.ExplicitHashKey != "" {
				ehks.Append(protoreflect.ValueOfString(u.ExplicitHashKey))
				r.Set(fields.ByName("explicit_hash_key_index"), protoreflect.ValueOfUint64(uint64(ehks.Len()-1)))
			}
			r.Set(fields.ByName("data"), protoreflect.ValueOfBytes(u.Data))
			tags := r.Mutable(fields.ByName("tags")).List()
			for range rng.IntN(3) {
				tag := dynamicpb.NewMessage(o.tag)
				tag.Set(o.tag.Fields().ByName("key"), protoreflect.ValueOfString(randomString(rng, 5)))
				if rng.IntN(2) == 0 {
					tag.Set(o.tag.Fields().ByName("value"), protoreflect.ValueOfString(randomString(rng, 8)))
				}
				tags.Append(protoreflect.ValueOfMessage(tag))
			}
			if rng.IntN(4) == 0 {
				r.SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 15, protowire.VarintType), rng.Uint64()))
			}
			recs.Append(protoreflect.ValueOfMessage(r))
		}
		if rng.IntN(4) == 0 {
			m.SetUnknown(protowire.AppendBytes(protowire.AppendTag(nil, 20, protowire.BytesType), []byte("future field")))
		}
		body, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Deaggregate(wrap(body))
		if err != nil {
			t.Fatal(err)
		}
		sameRecords(t, got, want)
	}
}
