package sink

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Firehose's namespaces in prefix expressions !{namespace:value}.
const (
	nsTimestamp     = "timestamp"
	nsFirehose      = "firehose"
	nsKeyFromQuery  = "partitionKeyFromQuery"
	nsKeyFromLambda = "partitionKeyFromLambda"
)

// Error output types, the values of !{firehose:error-output-type}.
const (
	// ErrorOutputProcessingFailed marks records that Options.Transform rejected or whose
	// partition keys could not be extracted.
	ErrorOutputProcessingFailed = "processing-failed"
	// ErrorOutputFormatConversionFailed marks records that the Format could not encode
	// (for example JSON that does not decode into the Parquet row type).
	ErrorOutputFormatConversionFailed = "format-conversion-failed"
)

// maxPrefixLen is Firehose's limit on an evaluated prefix; partition key values longer
// than that together send their record to the error output.
const maxPrefixLen = 512

// defaultTimePrefix is what Firehose appends to a prefix without expressions.
const defaultTimePrefix = "!{timestamp:yyyy/MM/dd/HH/}"

type partKind int

const (
	partLiteral partKind = iota
	partTimestamp
	partRandom
	partErrorType
	partQueryKey
	partLambdaKey
)

type templatePart struct {
	kind   partKind
	text   string // literal text, or the key name
	layout timeLayout
}

// template is a parsed Prefix or ErrorOutputPrefix.
type template struct {
	source string
	parts  []templatePart
}

// parseTemplate parses a prefix in Firehose's syntax: literal text and expressions
// !{namespace:value}. The sequence "!{" may only start an expression.
func parseTemplate(s string) (template, error) {
	t := template{source: s}
	rest := s
	for rest != "" {
		i := strings.Index(rest, "!{")
		if i < 0 {
			t.parts = append(t.parts, templatePart{kind: partLiteral, text: rest})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, templatePart{kind: partLiteral, text: rest[:i]})
		}
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			return t, fmt.Errorf("prefix %q: expression %q is not closed with }", s, rest[i:])
		}
		expr := rest[i+2 : i+end]
		rest = rest[i+end+1:]
		ns, value, ok := strings.Cut(expr, ":")
		if !ok || value == "" {
			return t, fmt.Errorf("prefix %q: expression !{%s} is not of the form !{namespace:value}", s, expr)
		}
		switch ns {
		case nsTimestamp:
			l, err := parseTimeLayout(value)
			if err != nil {
				return t, fmt.Errorf("prefix %q: %w", s, err)
			}
			t.parts = append(t.parts, templatePart{kind: partTimestamp, layout: l})
		case nsFirehose:
			switch value {
			case "random-string":
				t.parts = append(t.parts, templatePart{kind: partRandom})
			case "error-output-type":
				t.parts = append(t.parts, templatePart{kind: partErrorType})
			default:
				return t, fmt.Errorf("prefix %q: !{firehose:%s}: the firehose namespace has random-string and error-output-type", s, value)
			}
		case nsKeyFromQuery:
			t.parts = append(t.parts, templatePart{kind: partQueryKey, text: value})
		case nsKeyFromLambda:
			t.parts = append(t.parts, templatePart{kind: partLambdaKey, text: value})
		default:
			return t, fmt.Errorf("prefix %q: unknown namespace %q (use timestamp, firehose, partitionKeyFromQuery or partitionKeyFromLambda)", s, ns)
		}
	}
	return t, nil
}

func (t template) has(k partKind) bool {
	for _, p := range t.parts {
		if p.kind == k {
			return true
		}
	}
	return false
}

func (t template) hasExpressions() bool {
	for _, p := range t.parts {
		if p.kind != partLiteral {
			return true
		}
	}
	return false
}

// prefixes are the resolved Prefix and ErrorOutputPrefix.
type prefixes struct {
	data, errors template
}

// resolvePrefixes applies Firehose's rules: a Prefix without expressions gets
// !{timestamp:yyyy/MM/dd/HH/} appended; an empty ErrorOutputPrefix is the Prefix's
// literal text followed by !{firehose:error-output-type}/ and the same time folders when
// the Prefix has no expressions, else !{firehose:error-output-type}/ and the time
// folders; a given ErrorOutputPrefix with expressions must name the error output type;
// the Prefix may not.
func resolvePrefixes(prefix, errorPrefix string, queries map[string]string, haveFunc bool) (prefixes, error) {
	var p prefixes
	d, err := parseTemplate(prefix)
	if err != nil {
		return p, err
	}
	if d.has(partErrorType) {
		return p, fmt.Errorf("option Prefix %q: !{firehose:error-output-type} may only be used in ErrorOutputPrefix", prefix)
	}
	literalPrefix := !d.hasExpressions()
	if literalPrefix {
		if d, err = parseTemplate(prefix + defaultTimePrefix); err != nil {
			return p, err
		}
	}
	for _, part := range d.parts {
		switch {
		case part.kind == partQueryKey && queries[part.text] == "":
			return p, fmt.Errorf("option Prefix %q uses !{partitionKeyFromQuery:%s} but PartitionKeyQueries has no query named %q", prefix, part.text, part.text)
		case part.kind == partLambdaKey && !haveFunc:
			return p, fmt.Errorf("option Prefix %q uses !{partitionKeyFromLambda:%s} but PartitionKeyFunc is not set", prefix, part.text)
		}
	}
	switch {
	case errorPrefix == "" && literalPrefix:
		errorPrefix = prefix + "!{firehose:error-output-type}/" + defaultTimePrefix
	case errorPrefix == "":
		errorPrefix = "!{firehose:error-output-type}/" + defaultTimePrefix
	}
	e, err := parseTemplate(errorPrefix)
	if err != nil {
		return p, err
	}
	if e.hasExpressions() && !e.has(partErrorType) {
		return p, fmt.Errorf("option ErrorOutputPrefix %q has expressions but no !{firehose:error-output-type}; add it so failed records of different kinds stay apart", errorPrefix)
	}
	if e.has(partQueryKey) || e.has(partLambdaKey) {
		return p, fmt.Errorf("option ErrorOutputPrefix %q: partition keys are not available for failed records; use timestamp and firehose expressions only", errorPrefix)
	}
	p.data, p.errors = d, e
	return p, nil
}

// prefixValues are what a template is evaluated with.
type prefixValues struct {
	time       time.Time         // arrival time of the object's first record (UTC)
	seed       string            // identifies the object, for random-string
	errorType  string            // for error-output-type
	queryKeys  map[string]string // partitionKeyFromQuery values
	lambdaKeys map[string]string // partitionKeyFromLambda values
}

// render evaluates t. Every timestamp expression uses the same instant; each
// random-string expression gives a different string, derived from seed so that the same
// object gets the same name every time it is written.
func (t template) render(v prefixValues) string {
	var b []byte
	nrand := 0
	utc := v.time.UTC()
	for _, p := range t.parts {
		switch p.kind {
		case partLiteral:
			b = append(b, p.text...)
		case partTimestamp:
			b = p.layout.appendTime(b, utc)
		case partRandom:
			sum := sha256.Sum256([]byte(v.seed + "\x00" + strconv.Itoa(nrand)))
			nrand++
			b = append(b, hex.EncodeToString(sum[:])[:11]...)
		case partErrorType:
			b = append(b, v.errorType...)
		case partQueryKey:
			b = append(b, v.queryKeys[p.text]...)
		case partLambdaKey:
			b = append(b, v.lambdaKeys[p.text]...)
		}
	}
	return string(b)
}

// errPartitionKey is wrapped by the errors of partition key extraction.
var errPartitionKey = errors.New("partition key")

// checkKeyValue rejects values that would make a name that escapes its folder.
func checkKeyValue(name, v string) error {
	if v == "" || v == "." || v == ".." || strings.ContainsAny(v, "/\\") {
		return fmt.Errorf("%w %q: value %q is empty, a dot name or contains a slash", errPartitionKey, name, v)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] == 0x7f {
			return fmt.Errorf("%w %q: value %q contains a control character", errPartitionKey, name, v)
		}
	}
	return nil
}

// jsonQuery is a compiled PartitionKeyQueries entry: a path of object fields, written
// .a.b as in jq (the subset Firehose's examples use).
type jsonQuery []string

func parseJSONQuery(q string) (jsonQuery, error) {
	if !strings.HasPrefix(q, ".") || len(q) < 2 {
		return nil, fmt.Errorf("partition key query %q: write a field path such as .customer_id or .type.device", q)
	}
	fields := strings.Split(q[1:], ".")
	for _, f := range fields {
		if f == "" {
			return nil, fmt.Errorf("partition key query %q: empty field name", q)
		}
	}
	return fields, nil
}

// eval returns the scalar at the path in data, as text (strings unquoted, numbers and
// booleans as written).
func (q jsonQuery) eval(data []byte) (string, error) {
	cur := json.RawMessage(data)
	for _, f := range q {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(cur, &obj); err != nil {
			return "", fmt.Errorf("not a JSON object at %q: %w", f, err)
		}
		v, ok := obj[f]
		if !ok {
			return "", fmt.Errorf("field %q is missing", f)
		}
		cur = v
	}
	cur = bytes.TrimSpace(cur)
	if len(cur) == 0 {
		return "", errors.New("empty value")
	}
	switch cur[0] {
	case '"':
		var s string
		if err := json.Unmarshal(cur, &s); err != nil {
			return "", err
		}
		return s, nil
	case '{', '[', 'n':
		return "", fmt.Errorf("value %s is not a string, number or boolean", cur)
	}
	return string(cur), nil
}
