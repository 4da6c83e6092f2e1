package process

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
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
		dst = appendString(dst, f.name)
		dst = append(dst, ':')
		switch {
		case f.raw != nil:
			dst = append(dst, f.raw...)
		case f.null:
			dst = append(dst, "null"...)
		default:
			dst = appendString(dst, f.value)
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

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string: quotes, backslashes and control
// characters escaped, everything else (non-ASCII included) as it is; invalid UTF-8
// becomes U+FFFD, as the Kinesis Agent's decoding does.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
