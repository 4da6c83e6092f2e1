package parquet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"

	"github.com/kinesis-go/kinesis/sink"
)

// Options configures the Parquet format. The zero value of every field means its
// documented default.
type Options[T any] struct {
	// Decode turns a record's data into a row. An error rejects the record into the
	// sink's error output (format-conversion-failed). Default: encoding/json into T
	// (the field names follow T's json tags; unknown fields are ignored).
	Decode func(data []byte) (T, error)

	// Compression is the codec of the columns: "snappy" (the default, as Firehose's
	// Parquet conversion), "gzip", "zstd" or "none". Keep the sink's own Compression at
	// none: Parquet readers expect the file itself uncompressed.
	Compression string
}

// New returns a sink.Format that writes each object as a Parquet file of rows of type T
// (a struct; its parquet tags, or else its field names, name the columns). Every object
// is one row group: its size is the sink's BufferSize, so row groups are sized to the
// buffer, and a reader skips whole objects by their column statistics. No schema
// registry or Glue table is needed: the schema is T's.
func New[T any](optFns ...func(*Options[T])) (sink.Format, error) {
	var o Options[T]
	for _, fn := range optFns {
		fn(&o)
	}
	if o.Decode == nil {
		o.Decode = func(data []byte) (T, error) {
			var v T
			err := json.Unmarshal(data, &v)
			return v, err
		}
	}
	codecs := map[string]compress.Codec{"": &pq.Snappy, "snappy": &pq.Snappy, "gzip": &pq.Gzip, "zstd": &pq.Zstd, "none": &pq.Uncompressed}
	codec, ok := codecs[o.Compression]
	if !ok {
		return nil, fmt.Errorf("%w: parquet Compression %q is not one of snappy, gzip, zstd, none", sink.ErrInvalidOptions, o.Compression)
	}
	if err := checkSchema[T](); err != nil {
		return nil, err
	}
	return &format[T]{decode: o.Decode, codec: codec}, nil
}

// checkSchema reports a row type parquet-go cannot map, at New rather than at the first
// object.
func checkSchema[T any]() (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: parquet: the row type %T has no Parquet schema: %v", sink.ErrInvalidOptions, *new(T), v)
		}
	}()
	pq.SchemaOf(new(T))
	return nil
}

type format[T any] struct {
	decode func([]byte) (T, error)
	codec  compress.Codec
}

func (f *format[T]) Extension() string { return ".parquet" }

func (f *format[T]) NewEncoder(w io.Writer) sink.Encoder { return &encoder[T]{f: f, w: w} }

type encoder[T any] struct {
	f    *format[T]
	w    io.Writer
	rows []T
}

func (e *encoder[T]) Encode(data []byte) error {
	v, err := e.f.decode(data)
	if err != nil {
		return fmt.Errorf("parquet: decoding a %T row: %w", v, err)
	}
	e.rows = append(e.rows, v)
	return nil
}

func (e *encoder[T]) Close() error {
	if len(e.rows) == 0 {
		return nil
	}
	w := pq.NewGenericWriter[T](e.w, pq.Compression(e.f.codec), pq.MaxRowsPerRowGroup(int64(len(e.rows))))
	if _, err := w.Write(e.rows); err != nil {
		return errors.Join(fmt.Errorf("parquet: writing rows: %w", err), w.Close())
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("parquet: closing the file: %w", err)
	}
	return nil
}
