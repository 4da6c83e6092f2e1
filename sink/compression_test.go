package sink

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// gunzipAll returns the objects with .gz and .zst bodies decompressed.
func gunzipAll(t *testing.T, objs map[string][]byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for name, body := range objs {
		out[name] = decompress(t, name, body)
	}
	return out
}

func decompress(t testing.TB, name string, body []byte) []byte {
	t.Helper()
	switch {
	case strings.HasSuffix(name, ".gz"):
		r, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return b
	case strings.HasSuffix(name, ".zst"):
		d, err := zstd.NewReader(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		b, err := d.DecodeAll(body, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return b
	}
	return body
}

func TestCompressionRoundTripsAndIsDeterministic(t *testing.T) {
	body := bytes.Repeat([]byte(`{"tickerSymbol":"AAPL","price":190.5}`+"\n"), 1000)
	for _, c := range []Compression{CompressionNone, CompressionGzip, CompressionZstd} {
		t.Run(string(c), func(t *testing.T) {
			z1, err := c.compress(body)
			if err != nil {
				t.Fatal(err)
			}
			z2, _ := c.compress(body)
			if !bytes.Equal(z1, z2) {
				t.Error("two compressions of the same body differ: a rewritten object would not be the same")
			}
			if got := decompress(t, "x.json"+c.extension(), z1); !bytes.Equal(got, body) {
				t.Error("round trip changed the body")
			}
			if c != CompressionNone && len(z1) >= len(body)/5 {
				t.Errorf("compressed to %d of %d bytes", len(z1), len(body))
			}
		})
	}
}
