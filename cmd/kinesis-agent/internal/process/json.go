package process

import (
	"bytes"
	"encoding/json"

	"github.com/kinesis-go/kinesis/internal/jsonstr"
)

// field is one member of a JSON object written by the converters: a string value,
// null (null), or raw JSON (raw).
type field struct {
	name  string
	value string
	null  bool
	raw   []byte
}

// appendObject writes the fields as a compact JSON object, or indented when pretty.
func appendObject(dst []byte, fields []field, pretty bool) []byte {
	start := len(dst)
	dst = append(dst, '{')
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonstr.Append(dst, f.name)
		dst = append(dst, ':')
		switch {
		case f.raw != nil:
			dst = append(dst, f.raw...)
		case f.null:
			dst = append(dst, "null"...)
		default:
			dst = jsonstr.Append(dst, f.value)
		}
	}
	dst = append(dst, '}')
	if !pretty {
		return dst
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, dst[start:], "", "  "); err != nil {
		return dst // cannot happen: we wrote valid JSON
	}
	return append(dst[:start], buf.Bytes()...)
}
