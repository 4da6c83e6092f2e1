package sink

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Format encodes the records of one object. The default writes each record's data
// followed by Options.Delimiter (JSON lines when the records are JSON); package
// sink/parquet provides Parquet. A Format must be deterministic: the same records give
// the same bytes, so an object written again after a crash is the same object.
type Format interface {
	// Extension is the object name's extension for this format, with its dot (".json",
	// ".parquet"), before the compression's.
	Extension() string
	// NewEncoder returns an encoder writing one object to w.
	NewEncoder(w io.Writer) Encoder
}

// Encoder encodes the records of one object, in order.
type Encoder interface {
	// Encode adds one record's data. An error rejects that record only: it goes to the
	// error output (ErrorOutputFormatConversionFailed) and the object does not hold it,
	// so Encode must not have written anything for it.
	Encode(data []byte) error
	// Close finishes the object. The sink calls it once, after the last Encode.
	Close() error
}

// Lines returns the default Format: each record's data followed by delimiter (nil
// means NoDelimiter), in files named .json.
func Lines(delimiter []byte) Format { return linesFormat{delim: bytes.Clone(delimiter)} }

type linesFormat struct{ delim []byte }

func (linesFormat) Extension() string { return ".json" }

func (f linesFormat) NewEncoder(w io.Writer) Encoder { return &linesEncoder{w: w, delim: f.delim} }

type linesEncoder struct {
	w     io.Writer
	delim []byte
}

func (e *linesEncoder) Encode(data []byte) error {
	if _, err := e.w.Write(data); err != nil {
		return err
	}
	_, err := e.w.Write(e.delim)
	return err
}

func (e *linesEncoder) Close() error { return nil }

// Compression is how object bodies are compressed.
type Compression string

// Compressions.
const (
	// CompressionNone writes bodies as they are (the default, as Firehose's UNCOMPRESSED).
	CompressionNone Compression = "none"
	// CompressionGzip gzips bodies (extension .gz): readable by every tool, Athena and
	// Spark included.
	CompressionGzip Compression = "gzip"
	// CompressionZstd compresses with Zstandard (extension .zst): faster and smaller than
	// gzip; Athena, Spark and Trino read it.
	CompressionZstd Compression = "zstd"
)

func (c Compression) extension() string {
	switch c {
	case CompressionGzip:
		return ".gz"
	case CompressionZstd:
		return ".zst"
	}
	return ""
}

func (c Compression) validate() error {
	switch c {
	case CompressionNone, CompressionGzip, CompressionZstd:
		return nil
	}
	return fmt.Errorf("option Compression %q is not one of none, gzip, zstd", c)
}

// zstdEncoder is shared: EncodeAll is safe for concurrent use. One goroutine per call
// keeps the output independent of the machine.
var zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
})

// compress returns body compressed with c (body itself for CompressionNone).
func (c Compression) compress(body []byte) ([]byte, error) {
	switch c {
	case CompressionGzip:
		var b bytes.Buffer
		b.Grow(len(body)/4 + 64)
		w := gzip.NewWriter(&b)
		if _, err := w.Write(body); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	case CompressionZstd:
		enc, err := zstdEncoder()
		if err != nil {
			return nil, err
		}
		return enc.EncodeAll(body, make([]byte, 0, len(body)/4+64)), nil
	}
	return body, nil
}
