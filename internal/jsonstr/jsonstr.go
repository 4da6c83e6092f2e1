package jsonstr

import "unicode/utf8"

// safe reports the ASCII bytes the SDK's JSON serializer writes as they
// are: printable ASCII except '"' and '\'. Control characters and DEL (0x7F)
// are escaped; unlike encoding/json, '<', '>' and '&' are not.
var safe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < 0x7F; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// hexDigits is the digit set of \u escapes (lower case, like the SDK's).
const hexDigits = "0123456789abcdef"

// Len is the length of Append(nil, s).
func Len(s string) int {
	n := len(`""`) + len(s)
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if !safe[b] {
				switch b {
				case '"', '\\', '\n', '\r', '\t':
					n++ // \x
				default:
					n += len(`\u00XX`) - 1
				}
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			n += len("\uFFFD") - 1 // one invalid byte becomes U+FFFD
		case r == '\u2028' || r == '\u2029':
			n += len(`\u2028`) - size
		}
		i += size
	}
	return n
}

// Append appends s as a JSON string escaped exactly as the SDK's
// JSON serializer (smithy-go ShapeSerializer.appendEscapedString) does: '"'
// and '\' backslash-escaped; \n, \r, \t short escapes; other control
// characters and DEL as \u00xx; each byte of invalid UTF-8 replaced by U+FFFD;
// U+2028 and U+2029 as \u2028 and \u2029; everything else as is.
func Append(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch b {
			case '"', '\\':
				buf = append(buf, '\\', b)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			buf = append(buf, s[start:i]...)
			buf = append(buf, "\uFFFD"...)
			start = i + size
		case r == '\u2028' || r == '\u2029':
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			start = i + size
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
