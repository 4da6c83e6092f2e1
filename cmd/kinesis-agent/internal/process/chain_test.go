package process

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kinesis-go/kinesis/cmd/kinesis-agent/internal/config"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// chainOf parses processing options the way the agent's configuration does.
func chainOf(t testing.TB, optionsJSON string) *Chain {
	t.Helper()
	c, err := config.Parse("test.json", []byte(`{"flows":[{"filePattern":"/x","kinesisStream":"s","dataProcessingOptions":`+optionsJSON+`}]}`))
	require.NoError(t, err)
	chain, err := NewChain(c.Flows[0].DataProcessingOptions)
	require.NoError(t, err)
	return chain
}

// records splits a sample file into records: one per line, or, with multiline,
// a record per line starting with a non-space (continuation lines are indented).
func records(data []byte, multiline bool) [][]byte {
	var recs [][]byte
	start := regexp.MustCompile(`^\S`)
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n') + 1
		if i == 0 {
			i = len(data)
		}
		line := data[:i]
		if multiline && len(recs) > 0 && !start.Match(line) {
			last := recs[len(recs)-1]
			recs[len(recs)-1] = last[:len(last)+len(line)]
		} else {
			recs = append(recs, line)
		}
		data = data[i:]
	}
	return recs
}

// Every processing option, on real sample lines: testdata/NAME.in through the
// option gives testdata/NAME.golden (one converted record, or "<filtered>", per
// input record). go test -run TestGolden -update rewrites the golden files.
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name, options string
		multiline     bool
	}{
		{"common", `[{"optionName":"LOGTOJSON","logFormat":"COMMONAPACHELOG"}]`, false},
		{"combined", `[{"optionName":"LOGTOJSON","logFormat":"COMBINEDAPACHELOG"}]`, false},
		{"errorlog", `[{"optionName":"LOGTOJSON","logFormat":"APACHEERRORLOG"}]`, false},
		{"syslog", `[{"optionName":"LOGTOJSON","logFormat":"SYSLOG"}]`, false},
		{"rfc3339syslog", `[{"optionName":"LOGTOJSON","logFormat":"RFC3339SYSLOG"}]`, false},
		{"common-renamed", `[{"optionName":"LOGTOJSON","logFormat":"COMMONAPACHELOG","customFieldNames":["ip","id","user","time","req","status","size"]}]`, false},
		{"custom", `[{"optionName":"LOGTOJSON","logFormat":"SYSLOG","matchPattern":"user=(\\w+) action=(\\w+)(?: ms=(\\d+))?","customFieldNames":["user","action","ms"]}]`, false},
		{"csv", `[{"optionName":"CSVTOJSON","customFieldNames":["date","symbol","side","qty","price"]}]`, false},
		{"tsv", `[{"optionName":"CSVTOJSON","customFieldNames":["date","symbol","side"],"delimiter":"\\t"}]`, false},
		{"singleline", `[{"optionName":"SINGLELINE"}]`, true},
		{"metadata", `[{"optionName":"ADDMETADATA","metadata":{"host":"web01","tags":["a","b"]}}]`, false},
		{"metadata-pretty", `[{"optionName":"ADDMETADATA","metadata":{"host":"web01"},"jsonFormat":"PRETTYPRINT"}]`, false},
		{"singleline-then-metadata", `[{"optionName":"SINGLELINE"},{"optionName":"ADDMETADATA","metadata":{"app":"billing"}}]`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inName := tc.name
			switch tc.name {
			case "common-renamed":
				inName = "common"
			case "singleline-then-metadata":
				inName = "singleline"
			}
			in, err := os.ReadFile(filepath.Join("testdata", inName+".in"))
			require.NoError(t, err)
			chain := chainOf(t, tc.options)
			var got bytes.Buffer
			for _, rec := range records(in, tc.multiline) {
				out, ok := chain.Apply(rec)
				if !ok {
					got.WriteString("<filtered>\n")
					continue
				}
				require.True(t, bytes.HasSuffix(out, []byte("\n")), "a converted record ends with a newline")
				if !bytes.HasPrefix(out, []byte("{\n")) && bytes.HasPrefix(out, []byte("{")) {
					require.True(t, json.Valid(out), "%s", out)
				}
				got.Write(out)
			}
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				require.NoError(t, os.WriteFile(golden, got.Bytes(), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			assert.Equal(t, string(want), got.String())
		})
	}
}

func TestNoOptionsPassRecordsUnchanged(t *testing.T) {
	chain, err := NewChain(nil)
	require.NoError(t, err)
	rec := []byte("as is \x00\xff\n")
	out, ok := chain.Apply(rec)
	require.True(t, ok)
	assert.Equal(t, rec, out)
	assert.True(t, chain.Empty())
}

// The converters' JSON strings are escaped by internal/jsonstr (tested there);
// here: an object of them is valid JSON that decodes to the values.
func TestJSONObjectEscaping(t *testing.T) {
	fields := []field{
		{name: "plain", value: "plain"},
		{name: "q\"b\\", value: "\t\n\r\b\f\x01"},
		{name: "text", value: "café ☕ </tag> &"},
		{name: "bad", value: "bad \xff utf8"},
		{name: "none", null: true},
		{name: "raw", raw: []byte(`{"a":1}`)},
	}
	got := appendObject(nil, fields, false)
	assert.Equal(t, `{"plain":"plain","q\"b\\":"\t\n\r\u0008\u000c\u0001","text":"café ☕ </tag> &","bad":"bad `+"\ufffd"+` utf8","none":null,"raw":{"a":1}}`, string(got))
	var back map[string]any
	require.NoError(t, json.Unmarshal(got, &back))
	assert.Equal(t, "\t\n\r\b\f\x01", back["q\"b\\"])
	assert.Equal(t, "bad \ufffd utf8", back["bad"])
	pretty := appendObject(nil, fields, true)
	require.NoError(t, json.Unmarshal(pretty, &back))
	assert.Contains(t, string(pretty), "\n  \"plain\": \"plain\"")
}

func TestKeyPicker(t *testing.T) {
	flow := func(js string) *config.Flow {
		c, err := config.Parse("t.json", []byte(`{"flows":[{"filePattern":"/x","kinesisStream":"s"`+js+`}]}`))
		require.NoError(t, err)
		return &c.Flows[0]
	}
	det := NewKeyPicker(flow(`,"partitionKeyOption":"DETERMINISTIC"`), 1)
	assert.Equal(t, "d41d8cd98f00b204e9800998ecf8427e", det.Key(nil), "MD5 of the record, hex")
	assert.Equal(t, det.Key([]byte("a\n")), det.Key([]byte("a\n")))

	field := NewKeyPicker(flow(`,"partitionKeyField":"user.id","partitionKeyOption":"DETERMINISTIC"`), 1)
	assert.Equal(t, "u-17", field.Key([]byte(`{"user":{"id":"u-17"}}`+"\n")))
	assert.Equal(t, "42", field.Key([]byte(`{"user":{"id":42}}`)))
	assert.Equal(t, det.Key([]byte(`{"user":{}}`)), field.Key([]byte(`{"user":{}}`)), "falls back to DETERMINISTIC")
	assert.Equal(t, det.Key([]byte(`not json`)), field.Key([]byte(`not json`)))

	re := NewKeyPicker(flow(`,"partitionKeyPattern":"user=(\\w+)"`), 1)
	assert.Equal(t, "alice", re.Key([]byte("ts user=alice action=x\n")))
	assert.NotEmpty(t, re.Key([]byte("no user here")))

	rnd := NewKeyPicker(flow(``), 1)
	seen := map[string]bool{}
	for range 10000 {
		seen[rnd.Key([]byte("same line"))] = true
	}
	assert.Greater(t, len(seen), 900, "RANDOM spreads the same record over many keys")

	long, ok := validKey(string(bytes.Repeat([]byte("é"), 300)))
	require.True(t, ok)
	assert.Equal(t, 256, len([]rune(long)))
}
