package sink

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// timeLayout is a parsed Java DateTimeFormatter pattern, the syntax of Firehose's
// !{timestamp:...} expressions. It supports the pattern letters a prefix needs:
//
//	y  year (yy: two digits, y/yyy/yyyy: the full year)   u  year (as y)
//	M  month (M: 1, MM: 01, MMM: Jan, MMMM: January)      L  month (as M)
//	d  day of month (d, dd)                               D  day of year (D, DD, DDD)
//	H  hour 0-23 (H, HH)                                  h  hour 1-12 (h, hh)
//	m  minute (m, mm)                                     s  second (s, ss)
//	S  fraction of second (S..SSSSSSSSS digits)           a  AM or PM
//	E  day of week (E, EE, EEE: Mon; EEEE: Monday)
//
// Text in single quotes is literal (” is one quote); every other character that is not
// a letter is literal too. Any other letter is an error (Java gives it another meaning,
// such as Y, the week-based year, which is rarely what a prefix wants).
type timeLayout []timeField

type timeField struct {
	letter byte   // 0 for literal text
	width  int    // repetitions of the letter
	text   string // literal text
}

func parseTimeLayout(pattern string) (timeLayout, error) {
	var out timeLayout
	lit := func(s string) {
		if n := len(out); n > 0 && out[n-1].letter == 0 {
			out[n-1].text += s
			return
		}
		out = append(out, timeField{text: s})
	}
	for i := 0; i < len(pattern); {
		c := pattern[i]
		switch {
		case c == '\'':
			if i+1 < len(pattern) && pattern[i+1] == '\'' {
				lit("'")
				i += 2
				continue
			}
			var text strings.Builder
			j := i + 1
			for ; j < len(pattern); j++ {
				if pattern[j] != '\'' {
					text.WriteByte(pattern[j])
					continue
				}
				if j+1 < len(pattern) && pattern[j+1] == '\'' {
					text.WriteByte('\'')
					j++
					continue
				}
				break
			}
			if j >= len(pattern) {
				return nil, fmt.Errorf("timestamp pattern %q: unterminated quote", pattern)
			}
			lit(text.String())
			i = j + 1
		case isLetter(c):
			j := i
			for j < len(pattern) && pattern[j] == c {
				j++
			}
			w := j - i
			if err := checkTimeLetter(c, w); err != nil {
				return nil, fmt.Errorf("timestamp pattern %q: %w", pattern, err)
			}
			out = append(out, timeField{letter: c, width: w})
			i = j
		case c == '[' || c == ']' || c == '{' || c == '}' || c == '#':
			return nil, fmt.Errorf("timestamp pattern %q: %q is reserved in Java patterns; quote it ('%c')", pattern, c, c)
		default:
			lit(string(c))
			i++
		}
	}
	return out, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func checkTimeLetter(c byte, w int) error {
	maxWidth := map[byte]int{'y': 4, 'u': 4, 'M': 4, 'L': 4, 'd': 2, 'D': 3, 'H': 2, 'h': 2, 'm': 2, 's': 2, 'S': 9, 'a': 1, 'E': 4}
	m, ok := maxWidth[c]
	switch {
	case c == 'Y':
		return fmt.Errorf("letter Y is the week-based year in Java patterns; use yyyy for the year")
	case !ok:
		return fmt.Errorf("pattern letter %q is not supported (supported: y u M L d D H h m s S a E)", c)
	case w > m:
		return fmt.Errorf("%s is too many pattern letters %q (at most %d)", strings.Repeat(string(c), w), c, m)
	}
	return nil
}

// appendTime appends t formatted by l.
func (l timeLayout) appendTime(b []byte, t time.Time) []byte {
	for _, f := range l {
		switch f.letter {
		case 0:
			b = append(b, f.text...)
		case 'y', 'u':
			if f.width == 2 {
				b = appendPadded(b, t.Year()%100, 2)
			} else {
				b = appendPadded(b, t.Year(), f.width)
			}
		case 'M', 'L':
			switch f.width {
			case 3:
				b = append(b, t.Month().String()[:3]...)
			case 4:
				b = append(b, t.Month().String()...)
			default:
				b = appendPadded(b, int(t.Month()), f.width)
			}
		case 'd':
			b = appendPadded(b, t.Day(), f.width)
		case 'D':
			b = appendPadded(b, t.YearDay(), f.width)
		case 'H':
			b = appendPadded(b, t.Hour(), f.width)
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			b = appendPadded(b, h, f.width)
		case 'm':
			b = appendPadded(b, t.Minute(), f.width)
		case 's':
			b = appendPadded(b, t.Second(), f.width)
		case 'S':
			frac := fmt.Sprintf("%09d", t.Nanosecond())
			b = append(b, frac[:f.width]...)
		case 'a':
			if t.Hour() < 12 {
				b = append(b, "AM"...)
			} else {
				b = append(b, "PM"...)
			}
		case 'E':
			if f.width == 4 {
				b = append(b, t.Weekday().String()...)
			} else {
				b = append(b, t.Weekday().String()[:3]...)
			}
		}
	}
	return b
}

func appendPadded(b []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}
