package parquet_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pq "github.com/parquet-go/parquet-go"

	"github.com/kinesis-go/kinesis/consumer"
	"github.com/kinesis-go/kinesis/sink"
	"github.com/kinesis-go/kinesis/sink/parquet"
)

func encode(t *testing.T, f sink.Format, records ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := f.NewEncoder(&b)
	for _, r := range records {
		_ = enc.Encode([]byte(r))
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestOneRowGroupPerObjectAndTheSameBytesEveryTime(t *testing.T) {
	for _, codec := range []string{"", "gzip", "zstd", "none"} {
		t.Run(codec, func(t *testing.T) {
			f, err := parquet.New[Trade](func(o *parquet.Options[Trade]) { o.Compression = codec })
			if err != nil {
				t.Fatal(err)
			}
			var recs []string
			for i := range 5000 {
				recs = append(recs, fmt.Sprintf(`{"tickerSymbol":"T%d","price":%d.5,"quantity":%d}`, i%50, i, i))
			}
			a, b := encode(t, f, recs...), encode(t, f, recs...)
			if !bytes.Equal(a, b) {
				t.Error("the same records gave two different files: a rewritten object would differ")
			}
			pf, err := pq.OpenFile(bytes.NewReader(a), int64(len(a)))
			if err != nil {
				t.Fatal(err)
			}
			if n := len(pf.RowGroups()); n != 1 {
				t.Errorf("%d row groups, want 1 per object", n)
			}
			if pf.NumRows() != 5000 {
				t.Errorf("%d rows", pf.NumRows())
			}
		})
	}
}

func TestInvalidOptions(t *testing.T) {
	if _, err := parquet.New[Trade](func(o *parquet.Options[Trade]) { o.Compression = "lz5" }); !errors.Is(err, sink.ErrInvalidOptions) {
		t.Errorf("unknown codec: %v", err)
	}
	if _, err := parquet.New[chan int](); !errors.Is(err, sink.ErrInvalidOptions) {
		t.Errorf("row type without a schema: %v", err)
	}
}

type nopCheckpointer struct{}

func (nopCheckpointer) Checkpoint(context.Context) error                  { return nil }
func (nopCheckpointer) CheckpointAt(context.Context, string, int64) error { return nil }

// Through a sink: delivered rows in a .parquet object, the record that does not decode
// in the error output as format-conversion-failed.
func TestSinkWritesParquetObjects(t *testing.T) {
	f, err := parquet.New[Trade]()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := sink.New(sink.NewDir(dir), func(o *sink.Options) {
		o.StreamName = "trades"
		o.Prefix = "t/"
		o.Format = f
	})("shardId-000000000000")
	ctx := context.Background()
	if err := p.Initialize(ctx, consumer.InitializeInput{}); err != nil {
		t.Fatal(err)
	}
	var records []consumer.Record
	for i, d := range []string{`{"tickerSymbol":"A","price":1,"quantity":1}`, `{"tickerSymbol":7}`, `{"tickerSymbol":"B","price":2,"quantity":2}`} {
		records = append(records, consumer.Record{Data: []byte(d), SequenceNumber: fmt.Sprint(10 + i), ApproximateArrivalTimestamp: time.Unix(0, 0)})
	}
	if err := p.ProcessRecords(ctx, consumer.ProcessRecordsInput{Records: records, Checkpointer: nopCheckpointer{}}); err != nil {
		t.Fatal(err)
	}
	if err := p.ShutdownRequested(ctx, consumer.ShutdownRequestedInput{Checkpointer: nopCheckpointer{}}); err != nil {
		t.Fatal(err)
	}
	rows, err := pq.ReadFile[Trade](filepath.Join(dir, "t/1970/01/01/00/trades-shardId-000000000000-10-12.parquet"))
	if err != nil || len(rows) != 2 || rows[1].Ticker != "B" {
		t.Fatalf("rows %v, %v", rows, err)
	}
	failed, err := os.ReadFile(filepath.Join(dir, "t/format-conversion-failed/1970/01/01/00/trades-shardId-000000000000-11-11.json"))
	if err != nil || !strings.Contains(string(failed), `"errorOutputType":"format-conversion-failed"`) {
		t.Fatalf("error output %q, %v", failed, err)
	}
}
