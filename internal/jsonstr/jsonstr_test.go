package jsonstr

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAppend(t *testing.T) {
	for in, want := range map[string]string{
		"":                    `""`,
		"plain":               `"plain"`,
		"q\"b\\":              `"q\"b\\"`,
		"\t\n\r\b\f\x01":      `"\t\n\r\u0008\u000c\u0001"`,
		"del \x7f":            `"del \u007f"`,
		"café ☕ </tag> &":     `"café ☕ </tag> &"`,
		"bad \xff\xfe utf8":   `"bad ` + "\ufffd\ufffd" + ` utf8"`,
		"ls \u2028 ps \u2029": `"ls \u2028 ps \u2029"`,
	} {
		got := Append([]byte("x"), in)
		if string(got) != "x"+want {
			t.Errorf("Append(%q) = %s, want %s", in, got[1:], want)
		}
		if n := Len(in); n != len(want) {
			t.Errorf("Len(%q) = %d, want %d", in, n, len(want))
		}
	}
}

// FuzzAppend checks that Append writes valid JSON that decodes to s (each invalid
// UTF-8 byte as U+FFFD) and that Len predicts its length.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "a\"b\\c", "\x00\x1f\x7f", "\xe2\x80\xa8", "\xff\xc3", "é☕\U0001F600"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Append(nil, s)
		if n := Len(s); n != len(out) {
			t.Fatalf("Len(%q) = %d, Append wrote %d bytes", s, n, len(out))
		}
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("Append(%q) = %s: not JSON: %v", s, out, err)
		}
		var want strings.Builder
		for _, r := range s { // an invalid byte ranges as U+FFFD, width 1
			want.WriteRune(r)
		}
		if back != want.String() {
			t.Fatalf("Append(%q) decodes to %q, want %q", s, back, want.String())
		}
	})
}
