package process

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/kinesis-go/kinesis/cmd/kinesis-agent/internal/config"
)

// Chain applies a flow's data processing options in order. It is not safe for
// concurrent use (it reuses its buffers); each flow has its own.
type Chain struct {
	steps []converter
	bufs  [2][]byte
}

// converter converts one record (without its trailing newline) and appends the
// result (without newline) to dst; ok false drops the record.
type converter interface {
	convert(dst []byte, rec string) (out []byte, ok bool)
}

// NewChain builds the chain of options; an empty list passes records through.
func NewChain(opts []config.ProcessingOption) (*Chain, error) {
	c := &Chain{}
	for i, o := range opts {
		conv, err := newConverter(o)
		if err != nil {
			return nil, fmt.Errorf("dataProcessingOptions[%d] (%s): %w", i, o.Name, err)
		}
		c.steps = append(c.steps, conv)
	}
	return c, nil
}

// Empty reports whether the chain has no options: records pass unchanged.
func (c *Chain) Empty() bool { return len(c.steps) == 0 }

// Apply converts rec. The result ends with a newline (as the Kinesis Agent's
// converters write it) and is valid until the next call; ok false means the record
// is filtered out. With no options rec is returned as it is.
func (c *Chain) Apply(rec []byte) (out []byte, ok bool) {
	if len(c.steps) == 0 {
		return rec, true
	}
	cur := rec
	for i, s := range c.steps {
		b := &c.bufs[i%2]
		in := strings.TrimSuffix(string(cur), "\n")
		*b, ok = s.convert((*b)[:0], in)
		if !ok {
			return nil, false
		}
		*b = append(*b, '\n')
		cur = *b
	}
	return cur, true
}

func newConverter(o config.ProcessingOption) (converter, error) {
	pretty := o.JSONFormat == "PRETTYPRINT"
	switch o.Name {
	case config.SingleLine:
		return singleLine{}, nil
	case config.CSVToJSON:
		return newCSV(o.CustomFieldNames, o.Delimiter, pretty)
	case config.LogToJSON:
		return newLogToJSON(o, pretty)
	case config.AddMetadata:
		meta := []byte(o.Metadata)
		if len(meta) == 0 {
			meta = []byte("null")
		}
		return addMetadata{metadata: meta, pretty: pretty}, nil
	}
	return nil, fmt.Errorf("unknown processing option %q", o.Name)
}

// singleLine joins the lines of a multi-line record, each trimmed of leading and
// trailing whitespace and control characters, without separator (as the Kinesis
// Agent's SINGLELINE does).
type singleLine struct{}

func (singleLine) convert(dst []byte, rec string) ([]byte, bool) {
	for line := range strings.SplitSeq(rec, "\n") {
		dst = append(dst, trimJava(line)...)
	}
	return dst, true
}

// trimJava trims what Java's String.trim does: every character up to U+0020.
func trimJava(s string) string {
	i, j := 0, len(s)
	for i < j && s[i] <= ' ' {
		i++
	}
	for j > i && s[j-1] <= ' ' {
		j--
	}
	return s[i:j]
}

// csvToJSON splits a record at a delimiter (a regular expression) into the named
// columns; missing columns are null, extra ones ignored.
type csvToJSON struct {
	names   []string
	literal string         // the delimiter when it has no regexp meta characters
	re      *regexp.Regexp // otherwise
	pretty  bool
	fields  []field
}

func newCSV(names []string, delim string, pretty bool) (*csvToJSON, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("customFieldNames is required")
	}
	c := &csvToJSON{names: names, pretty: pretty, fields: make([]field, len(names))}
	if regexp.QuoteMeta(delim) == delim {
		c.literal = delim
	} else {
		re, err := regexp.Compile(delim)
		if err != nil {
			return nil, fmt.Errorf("delimiter: %w", err)
		}
		c.re = re
	}
	return c, nil
}

func (c *csvToJSON) convert(dst []byte, rec string) ([]byte, bool) {
	var cols []string
	if c.re != nil {
		cols = c.re.Split(rec, -1)
	} else {
		cols = strings.Split(rec, c.literal)
	}
	// Java's String.split drops trailing empty columns.
	for len(cols) > 1 && cols[len(cols)-1] == "" {
		cols = cols[:len(cols)-1]
	}
	for i, name := range c.names {
		c.fields[i] = field{name: name}
		if i < len(cols) {
			c.fields[i].value = cols[i]
		} else {
			c.fields[i].null = true
		}
	}
	return appendObject(dst, c.fields, c.pretty), true
}

// logToJSON matches a record against a log format and writes its groups as JSON.
type logToJSON struct {
	re         *regexp.Regexp
	names      []string
	dashIsNull bool
	pretty     bool
	fields     []field
	idx        []int
}

func newLogToJSON(o config.ProcessingOption, pretty bool) (*logToJSON, error) {
	f, known := logFormats[o.LogFormat]
	l := &logToJSON{pretty: pretty, dashIsNull: f.dashIsNull}
	pattern := f.pattern
	l.names = f.fields
	if o.MatchPattern != "" {
		pattern = o.MatchPattern
		l.names = o.CustomFieldNames
	} else if !known {
		return nil, fmt.Errorf("logFormat %q is not one of COMMONAPACHELOG, COMBINEDAPACHELOG, APACHEERRORLOG, SYSLOG, RFC3339SYSLOG", o.LogFormat)
	} else if o.HasCustomFieldNames {
		l.names = o.CustomFieldNames
	}
	re, err := wholeMatch(pattern)
	if err != nil {
		return nil, fmt.Errorf("matchPattern: %w", err)
	}
	if re.NumSubexp() != len(l.names) {
		return nil, fmt.Errorf("the pattern has %d groups for %d field names", re.NumSubexp(), len(l.names))
	}
	l.re = re
	l.fields = make([]field, len(l.names))
	return l, nil
}

func (l *logToJSON) convert(dst []byte, rec string) ([]byte, bool) {
	l.idx = l.re.FindStringSubmatchIndex(rec)
	if l.idx == nil {
		return dst, false
	}
	for i, name := range l.names {
		lo, hi := l.idx[2*i+2], l.idx[2*i+3]
		f := field{name: name}
		if lo < 0 {
			f.null = true
		} else {
			f.value = rec[lo:hi]
			if l.dashIsNull && f.value == "-" {
				f.null = true
			}
		}
		l.fields[i] = f
	}
	return appendObject(dst, l.fields, l.pretty), true
}

// addMetadata wraps the record: {"metadata": <metadata>, "data": "<record>"}.
type addMetadata struct {
	metadata []byte
	pretty   bool
}

func (a addMetadata) convert(dst []byte, rec string) ([]byte, bool) {
	return appendObject(dst, []field{{name: "metadata", raw: a.metadata}, {name: "data", value: rec}}, a.pretty), true
}
