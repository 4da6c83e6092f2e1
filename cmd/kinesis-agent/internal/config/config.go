package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Config is a parsed agent configuration file.
type Config struct {
	// File is the path the configuration was read from (used in error messages).
	File string
	// KinesisEndpoint is "kinesis.endpoint": a custom Kinesis endpoint URL. The
	// -endpoint flag overrides it. Empty: the SDK's endpoint for the region.
	KinesisEndpoint string
	// Region is "kinesis.region"; empty: the SDK's default chain (AWS_REGION, profile).
	Region string
	// AccessKeyID, SecretAccessKey and SessionToken are "awsAccessKeyId",
	// "awsSecretAccessKey" and "awsSessionToken": static credentials. Empty: the
	// SDK's default credential chain (environment, profile, instance role).
	AccessKeyID, SecretAccessKey, SessionToken string
	// AssumeRoleARN and AssumeRoleExternalID are "assumeRoleARN" and
	// "assumeRoleExternalId": a role assumed with STS on top of the credentials.
	AssumeRoleARN, AssumeRoleExternalID string
	// ShutdownTimeout is "shutdownTimeoutMillis": how long SIGTERM waits for the
	// lines read so far to be written before positions are saved and the agent exits.
	// Default 10 s.
	ShutdownTimeout time.Duration
	// LogLevel is "log.level": DEBUG, INFO (default), WARN or ERROR (TRACE is DEBUG).
	LogLevel string
	// CheckpointInterval is "checkpointIntervalMillis": how often confirmed file
	// positions are saved. Default 1 s.
	CheckpointInterval time.Duration
	// StatusInterval is "statusIntervalMillis": how often the status line is logged.
	// Default 30 s; negative disables it.
	StatusInterval time.Duration
	// Aggregation is "aggregation": pack many lines into one Kinesis record (KPL
	// aggregation). Default true; consumers must deaggregate (the KCL does).
	Aggregation bool
	// MaxBufferedBytes is "maxBufferedBytes": the memory the producer may hold for
	// lines read and not yet written, per stream. Default 8 MiB. Reading stops while
	// it is full. The command also sets the Go runtime's soft memory limit to four
	// times this plus 16 MiB (48 MiB by default) unless GOMEMLIMIT is set.
	MaxBufferedBytes int64
	// MaxConnections is "maxConnections": PutRecords calls in flight per stream.
	// Default 4 (each holds up to maxBufferSizeBytes x 4/3 of request body).
	MaxConnections int
	// RecordTTL is "recordTtlMillis": how long the producer retries a line before
	// the agent puts it again (a line is never given up). Default 30 s.
	RecordTTL time.Duration
	// Flows are the "flows": which files go to which stream.
	Flows []Flow
	// Warnings lists accepted keys that have no effect in this agent.
	Warnings []string
}

// Flow is one entry of "flows": files matching FilePattern go to KinesisStream.
type Flow struct {
	// FilePattern is "filePattern": a path whose last elements may hold glob
	// characters (path.Match syntax), e.g. /var/log/app/*.log. Required.
	FilePattern string
	// KinesisStream is "kinesisStream": the stream's name. Required.
	KinesisStream string
	// PartitionKeyOption is "partitionKeyOption": RANDOM (default) or DETERMINISTIC
	// (the MD5 of the record, in hex).
	PartitionKeyOption string
	// PartitionKeyField is "partitionKeyField": the partition key is the value of
	// this field of the (processed) record, a JSON object; dots separate nested
	// fields. Records without it fall back to PartitionKeyOption.
	PartitionKeyField string
	// PartitionKeyPattern is "partitionKeyPattern": the partition key is the first
	// group (or the whole match) of this regular expression in the record. Records
	// that do not match fall back to PartitionKeyOption.
	PartitionKeyPattern *regexp.Regexp
	// InitialPosition is "initialPosition": where the files found at the agent's
	// first start (no saved positions for the flow) are read from: END_OF_FILE
	// (default) or START_OF_FILE. Files that appear later are always read from
	// their start.
	InitialPosition string
	// MaxBufferAge is "maxBufferAgeMillis": how long a line may wait to be packed
	// with others before it is sent. Default 100 ms.
	MaxBufferAge time.Duration
	// MaxBufferSizeRecords and MaxBufferSizeBytes are "maxBufferSizeRecords" and
	// "maxBufferSizeBytes": the most Kinesis records and bytes in one PutRecords
	// call. Defaults 500 and 1 MiB (the Kinesis limit is 5 MiB; smaller calls keep
	// the memory of the requests in flight low).
	MaxBufferSizeRecords int
	MaxBufferSizeBytes   int
	// SkipHeaderLines is "skipHeaderLines": lines skipped at the start of each file.
	SkipHeaderLines int
	// MultiLineStartPattern is "multiLineStartPattern": a line matching it starts a
	// record; the lines that follow (until the next match) belong to that record.
	MultiLineStartPattern *regexp.Regexp
	// TruncatedRecordTerminator is "truncatedRecordTerminator": appended to a record
	// cut to the stream's record size limit. Default "\n".
	TruncatedRecordTerminator string
	// DataProcessingOptions is "dataProcessingOptions", applied in order.
	DataProcessingOptions []ProcessingOption
	// PollInterval is "minTimeBetweenFilePollsMillis": how often open files are read
	// for new data. Default 100 ms.
	PollInterval time.Duration
	// RefreshInterval is "maxTimeBetweenFileTrackerRefreshMillis": how often the
	// pattern is matched again to find new and rotated files. Default 1 s.
	RefreshInterval time.Duration
	// PartialLineTimeout is "partialLineTimeoutMillis": how long the unterminated
	// last line of a file that was rotated away or deleted waits for its newline
	// before it is sent as it is. The last line of a file still at its path in the
	// pattern always waits for its newline. Default 5 s.
	PartialLineTimeout time.Duration
	// RetryInitialBackoff and RetryMaxBackoff are "retryInitialBackoffMillis" and
	// "retryMaxBackoffMillis": the wait before a line whose write failed is put
	// again, doubling up to the maximum. Defaults 1 s and 10 s.
	RetryInitialBackoff, RetryMaxBackoff time.Duration
}

// ID names the flow in positions and logs: its pattern and stream.
func (f *Flow) ID() string { return f.FilePattern + " -> " + f.KinesisStream }

// ProcessingOption is one entry of "dataProcessingOptions".
type ProcessingOption struct {
	// Name is "optionName": SINGLELINE, CSVTOJSON, LOGTOJSON or ADDMETADATA.
	Name string
	// LogFormat is "logFormat" (LOGTOJSON): COMMONAPACHELOG, COMBINEDAPACHELOG,
	// APACHEERRORLOG, SYSLOG or RFC3339SYSLOG.
	LogFormat string
	// MatchPattern is "matchPattern" (LOGTOJSON): a regular expression replacing the
	// format's; its groups are named by CustomFieldNames.
	MatchPattern string
	// CustomFieldNames is "customFieldNames" (CSVTOJSON, LOGTOJSON).
	CustomFieldNames []string
	// HasCustomFieldNames says whether customFieldNames was given.
	HasCustomFieldNames bool
	// Delimiter is "delimiter" (CSVTOJSON): a regular expression; default ",".
	Delimiter string
	// JSONFormat is "jsonFormat": COMPACT (default) or PRETTYPRINT.
	JSONFormat string
	// Metadata is "metadata" (ADDMETADATA): any JSON value, compacted.
	Metadata json.RawMessage
}

// Error is a configuration error: the file, the key (a path such as
// flows[0].dataProcessingOptions[1].logFormat) and what is wrong.
type Error struct {
	File string
	Key  string
	Err  error
}

func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.File, e.Key, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrUnknownKey is wrapped by the Error of a key the agent does not know.
var ErrUnknownKey = errors.New("unknown key")

// ErrUnsupported is wrapped by the Error of a Kinesis Agent key or value this agent
// does not implement.
var ErrUnsupported = errors.New("not supported by this agent")

// Load reads and parses the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read agent configuration: %w", err)
	}
	return Parse(path, data)
}

// Parse parses a configuration; file names it in errors.
func Parse(file string, data []byte) (*Config, error) {
	p := &parser{file: file}
	c := p.config(data)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return c, nil
}

type parser struct {
	file string
	errs []error
}

func (p *parser) fail(key string, err error) {
	p.errs = append(p.errs, &Error{File: p.file, Key: key, Err: err})
}

func (p *parser) failf(key, format string, args ...any) {
	p.fail(key, fmt.Errorf(format, args...))
}

// object decodes a JSON object, reporting keys outside known (and unsupported ones).
func (p *parser) object(key string, raw json.RawMessage, known, unsupported, ignored map[string]string, warn *[]string) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&m); err != nil || m == nil {
		if err == nil {
			err = errors.New("is null")
		}
		p.failf(key, "must be a JSON object: %v", err)
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sub := join(key, k)
		switch {
		case known[k] != "":
		case unsupported[k] != "":
			p.fail(sub, fmt.Errorf("%w: %s", ErrUnsupported, unsupported[k]))
			delete(m, k)
		case ignored[k] != "":
			*warn = append(*warn, fmt.Sprintf("%s: %s: ignored: %s", p.file, sub, ignored[k]))
			delete(m, k)
		default:
			names := make([]string, 0, len(known))
			for n := range known {
				names = append(names, n)
			}
			sort.Strings(names)
			p.fail(sub, fmt.Errorf("%w (known keys here: %s)", ErrUnknownKey, strings.Join(names, ", ")))
			delete(m, k)
		}
	}
	return m
}

func join(key, k string) string {
	if key == "" {
		return k
	}
	return key + "." + k
}

func (p *parser) str(m map[string]json.RawMessage, key, k string, def string) string {
	raw, ok := m[k]
	if !ok {
		return def
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		p.failf(join(key, k), "must be a string")
		return def
	}
	return s
}

func (p *parser) boolean(m map[string]json.RawMessage, key, k string, def bool) bool {
	raw, ok := m[k]
	if !ok {
		return def
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		// The Java agent reads booleans from strings too.
		var s string
		if json.Unmarshal(raw, &s) == nil && (s == "true" || s == "false") {
			return s == "true"
		}
		p.failf(join(key, k), "must be true or false")
		return def
	}
	return b
}

// integer reads an integer in lo..hi (numbers and numeric strings, as the Java agent).
func (p *parser) integer(m map[string]json.RawMessage, key, k string, def, lo, hi int64) int64 {
	raw, ok := m[k]
	if !ok {
		return def
	}
	var n json.Number
	s := strings.TrimSpace(string(raw))
	if strings.HasPrefix(s, `"`) {
		var str string
		_ = json.Unmarshal(raw, &str)
		n = json.Number(str)
	} else {
		n = json.Number(s)
	}
	v, err := n.Int64()
	if err != nil {
		p.failf(join(key, k), "must be an integer, got %s", s)
		return def
	}
	if v < lo || v > hi {
		p.failf(join(key, k), "%d is outside %d..%d", v, lo, hi)
		return def
	}
	return v
}

func (p *parser) millis(m map[string]json.RawMessage, key, k string, def time.Duration, lo, hi int64) time.Duration {
	return time.Duration(p.integer(m, key, k, def.Milliseconds(), lo, hi)) * time.Millisecond
}

func (p *parser) enum(m map[string]json.RawMessage, key, k, def string, values ...string) string {
	s := p.str(m, key, k, def)
	if s == def {
		return s
	}
	up := strings.ToUpper(s)
	if !slices.Contains(values, up) {
		p.failf(join(key, k), "%q is not one of %s", s, strings.Join(values, ", "))
		return def
	}
	return up
}

func (p *parser) regexp(m map[string]json.RawMessage, key, k string) *regexp.Regexp {
	s := p.str(m, key, k, "")
	if s == "" {
		return nil
	}
	re, err := regexp.Compile(s)
	if err != nil {
		p.failf(join(key, k), "invalid regular expression: %v", err)
		return nil
	}
	return re
}

func (p *parser) strings(m map[string]json.RawMessage, key, k string) ([]string, bool) {
	raw, ok := m[k]
	if !ok {
		return nil, false
	}
	var v []string
	if err := json.Unmarshal(raw, &v); err != nil {
		p.failf(join(key, k), "must be a list of strings")
		return nil, false
	}
	return v, true
}

const maxMillis = int64(365 * 24 * time.Hour / time.Millisecond)

var topKeys = keySet("flows", "kinesis.endpoint", "kinesis.region", "awsAccessKeyId", "awsSecretAccessKey",
	"awsSessionToken", "assumeRoleARN", "assumeRoleExternalId", "shutdownTimeoutMillis", "log.level",
	"checkpointIntervalMillis", "statusIntervalMillis", "aggregation", "maxBufferedBytes", "maxConnections",
	"recordTtlMillis")

var topUnsupported = map[string]string{
	"checkpointFile":    "positions are kept in the directory given by -state",
	"firehose.endpoint": "this agent writes to Kinesis Data Streams only",
	"sts.endpoint":      "set AWS_ENDPOINT_URL_STS instead",
}

var topIgnored = map[string]string{
	"cloudwatch.emitMetrics":             "metrics go through OpenTelemetry",
	"cloudwatch.endpoint":                "metrics go through OpenTelemetry",
	"cloudwatch.metricsBufferTimeMillis": "metrics go through OpenTelemetry",
	"log.file":                           "logs go to standard error (journald under systemd)",
	"log.maxBackupIndex":                 "logs go to standard error",
	"log.maxFileSize":                    "logs go to standard error",
	"maxSendingThreads":                  "the producer sizes its own pipeline (see maxConnections)",
	"maxSendingThreadsPerCore":           "the producer sizes its own pipeline (see maxConnections)",
	"sendingThreadsKeepAliveMillis":      "the producer sizes its own pipeline",
	"sendingThreadsMaxQueueSize":         "the producer sizes its own pipeline",
	"userAgentOverride":                  "not used",
}

var flowKeys = keySet("filePattern", "kinesisStream", "partitionKeyOption", "partitionKeyField",
	"partitionKeyPattern", "initialPosition", "maxBufferAgeMillis", "maxBufferSizeRecords",
	"maxBufferSizeBytes", "skipHeaderLines", "multiLineStartPattern", "truncatedRecordTerminator",
	"dataProcessingOptions", "minTimeBetweenFilePollsMillis", "maxTimeBetweenFileTrackerRefreshMillis",
	"partialLineTimeoutMillis", "retryInitialBackoffMillis", "retryMaxBackoffMillis")

var flowUnsupported = map[string]string{
	"deliveryStream":    "this agent writes to Kinesis Data Streams only (use kinesisStream)",
	"fileFooterPattern": "not implemented",
}

var flowIgnored = map[string]string{
	"publishQueueCapacity":          "the producer's buffer (maxBufferedBytes) bounds what is read ahead",
	"waitOnFullPublishQueueMillis":  "reading waits for the producer's buffer instead",
	"waitOnEmptyPublishQueueMillis": "not used",
	"waitOnFullRetryQueueMillis":    "not used",
	"log.emitInternalMetrics":       "not used",
}

var optionKeys = keySet("optionName", "logFormat", "matchPattern", "customFieldNames", "delimiter",
	"jsonFormat", "metadata")

func keySet(keys ...string) map[string]string {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		m[k] = k
	}
	return m
}

func (p *parser) config(data []byte) *Config {
	c := &Config{File: p.file}
	m := p.object("", data, topKeys, topUnsupported, topIgnored, &c.Warnings)
	if m == nil {
		return c
	}
	c.KinesisEndpoint = p.str(m, "", "kinesis.endpoint", "")
	c.Region = p.str(m, "", "kinesis.region", "")
	c.AccessKeyID = p.str(m, "", "awsAccessKeyId", "")
	c.SecretAccessKey = p.str(m, "", "awsSecretAccessKey", "")
	c.SessionToken = p.str(m, "", "awsSessionToken", "")
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		p.failf("awsAccessKeyId", "awsAccessKeyId and awsSecretAccessKey go together")
	}
	c.AssumeRoleARN = p.str(m, "", "assumeRoleARN", "")
	c.AssumeRoleExternalID = p.str(m, "", "assumeRoleExternalId", "")
	c.ShutdownTimeout = p.millis(m, "", "shutdownTimeoutMillis", 10*time.Second, 1, maxMillis)
	c.LogLevel = p.enum(m, "", "log.level", "INFO", "TRACE", "DEBUG", "INFO", "WARN", "ERROR")
	c.CheckpointInterval = p.millis(m, "", "checkpointIntervalMillis", time.Second, 10, maxMillis)
	c.StatusInterval = p.millis(m, "", "statusIntervalMillis", 30*time.Second, -1, maxMillis)
	c.Aggregation = p.boolean(m, "", "aggregation", true)
	c.MaxBufferedBytes = p.integer(m, "", "maxBufferedBytes", 8<<20, 1<<20, 1<<40)
	c.MaxConnections = int(p.integer(m, "", "maxConnections", 4, 1, 256))
	c.RecordTTL = p.millis(m, "", "recordTtlMillis", 30*time.Second, 100, maxMillis)

	raw, ok := m["flows"]
	if !ok {
		p.fail("flows", errors.New("missing: list at least one flow"))
		return c
	}
	var flows []json.RawMessage
	if err := json.Unmarshal(raw, &flows); err != nil {
		p.fail("flows", errors.New("must be a list of flow objects"))
		return c
	}
	if len(flows) == 0 {
		p.fail("flows", errors.New("is empty: list at least one flow"))
	}
	seen := map[string]string{}
	for i, fr := range flows {
		key := fmt.Sprintf("flows[%d]", i)
		f := p.flow(key, fr, &c.Warnings)
		if f == nil {
			continue
		}
		if prev, dup := seen[f.ID()]; dup {
			p.failf(key, "repeats %s (same filePattern and kinesisStream)", prev)
		}
		seen[f.ID()] = key
		c.Flows = append(c.Flows, *f)
	}
	return c
}

func (p *parser) flow(key string, raw json.RawMessage, warn *[]string) *Flow {
	m := p.object(key, raw, flowKeys, flowUnsupported, flowIgnored, warn)
	if m == nil {
		return nil
	}
	f := &Flow{}
	f.FilePattern = p.str(m, key, "filePattern", "")
	if f.FilePattern == "" {
		p.failf(join(key, "filePattern"), "missing: the files to read, e.g. /var/log/app/*.log")
	} else if !strings.HasPrefix(f.FilePattern, "/") {
		p.failf(join(key, "filePattern"), "%q must be an absolute path", f.FilePattern)
	} else if _, err := globCheck(f.FilePattern); err != nil {
		p.failf(join(key, "filePattern"), "%v", err)
	}
	f.KinesisStream = p.str(m, key, "kinesisStream", "")
	if f.KinesisStream == "" {
		p.failf(join(key, "kinesisStream"), "missing: the name of the Kinesis data stream")
	}
	f.PartitionKeyOption = p.enum(m, key, "partitionKeyOption", "RANDOM", "RANDOM", "DETERMINISTIC")
	f.PartitionKeyField = p.str(m, key, "partitionKeyField", "")
	f.PartitionKeyPattern = p.regexp(m, key, "partitionKeyPattern")
	if f.PartitionKeyField != "" && f.PartitionKeyPattern != nil {
		p.failf(join(key, "partitionKeyPattern"), "give partitionKeyField or partitionKeyPattern, not both")
	}
	f.InitialPosition = p.enum(m, key, "initialPosition", "END_OF_FILE", "START_OF_FILE", "END_OF_FILE")
	f.MaxBufferAge = p.millis(m, key, "maxBufferAgeMillis", 100*time.Millisecond, 1, 15*60*1000)
	f.MaxBufferSizeRecords = int(p.integer(m, key, "maxBufferSizeRecords", 500, 1, 500))
	f.MaxBufferSizeBytes = int(p.integer(m, key, "maxBufferSizeBytes", 1<<20, 1, 10<<20))
	f.SkipHeaderLines = int(p.integer(m, key, "skipHeaderLines", 0, 0, 1<<31-1))
	f.MultiLineStartPattern = p.regexp(m, key, "multiLineStartPattern")
	f.TruncatedRecordTerminator = p.str(m, key, "truncatedRecordTerminator", "\n")
	if len(f.TruncatedRecordTerminator) > 1024 {
		p.failf(join(key, "truncatedRecordTerminator"), "is longer than 1024 bytes")
	}
	f.PollInterval = p.millis(m, key, "minTimeBetweenFilePollsMillis", 100*time.Millisecond, 1, 60_000)
	f.RefreshInterval = p.millis(m, key, "maxTimeBetweenFileTrackerRefreshMillis", time.Second, 1, 3_600_000)
	f.PartialLineTimeout = p.millis(m, key, "partialLineTimeoutMillis", 5*time.Second, 0, maxMillis)
	f.RetryInitialBackoff = p.millis(m, key, "retryInitialBackoffMillis", time.Second, 1, maxMillis)
	f.RetryMaxBackoff = p.millis(m, key, "retryMaxBackoffMillis", 10*time.Second, 1, maxMillis)
	if f.RetryMaxBackoff < f.RetryInitialBackoff {
		f.RetryMaxBackoff = f.RetryInitialBackoff
	}
	if raw, ok := m["dataProcessingOptions"]; ok {
		var opts []json.RawMessage
		if err := json.Unmarshal(raw, &opts); err != nil {
			p.failf(join(key, "dataProcessingOptions"), "must be a list of objects")
		}
		for i, or := range opts {
			ok := fmt.Sprintf("%s.dataProcessingOptions[%d]", key, i)
			if o := p.option(ok, or); o != nil {
				f.DataProcessingOptions = append(f.DataProcessingOptions, *o)
			}
		}
	}
	return f
}

// Names of the processing options and log formats.
const (
	SingleLine  = "SINGLELINE"
	CSVToJSON   = "CSVTOJSON"
	LogToJSON   = "LOGTOJSON"
	AddMetadata = "ADDMETADATA"

	CommonApacheLog   = "COMMONAPACHELOG"
	CombinedApacheLog = "COMBINEDAPACHELOG"
	ApacheErrorLog    = "APACHEERRORLOG"
	Syslog            = "SYSLOG"
	RFC3339Syslog     = "RFC3339SYSLOG"
)

func (p *parser) option(key string, raw json.RawMessage) *ProcessingOption {
	var discard []string
	m := p.object(key, raw, optionKeys, nil, nil, &discard)
	if m == nil {
		return nil
	}
	o := &ProcessingOption{}
	o.Name = strings.ToUpper(p.str(m, key, "optionName", ""))
	allowed := map[string][]string{
		SingleLine:  {"optionName"},
		CSVToJSON:   {"optionName", "customFieldNames", "delimiter", "jsonFormat"},
		LogToJSON:   {"optionName", "logFormat", "matchPattern", "customFieldNames", "jsonFormat"},
		AddMetadata: {"optionName", "metadata", "jsonFormat"},
	}
	switch o.Name {
	case "":
		p.failf(join(key, "optionName"), "missing: one of SINGLELINE, CSVTOJSON, LOGTOJSON, ADDMETADATA")
		return nil
	case "ADDEC2METADATA", "ADDBRACKETS":
		p.fail(join(key, "optionName"), fmt.Errorf("%w: %s", ErrUnsupported, o.Name))
		return nil
	}
	keys, ok := allowed[o.Name]
	if !ok {
		p.failf(join(key, "optionName"), "%q is not one of SINGLELINE, CSVTOJSON, LOGTOJSON, ADDMETADATA", o.Name)
		return nil
	}
	for k := range m {
		if !slices.Contains(keys, k) {
			p.fail(join(key, k), fmt.Errorf("%w: not an option of %s", ErrUnknownKey, o.Name))
		}
	}
	o.JSONFormat = p.enum(m, key, "jsonFormat", "COMPACT", "COMPACT", "PRETTYPRINT")
	o.CustomFieldNames, o.HasCustomFieldNames = p.strings(m, key, "customFieldNames")
	switch o.Name {
	case CSVToJSON:
		if !o.HasCustomFieldNames || len(o.CustomFieldNames) == 0 {
			p.failf(join(key, "customFieldNames"), "missing: CSVTOJSON needs the column names")
		}
		o.Delimiter = p.str(m, key, "delimiter", ",")
		if _, err := regexp.Compile(o.Delimiter); err != nil || o.Delimiter == "" {
			p.failf(join(key, "delimiter"), "must be a non-empty regular expression")
		}
	case LogToJSON:
		o.LogFormat = p.enum(m, key, "logFormat", "", CommonApacheLog, CombinedApacheLog, ApacheErrorLog, Syslog, RFC3339Syslog)
		o.MatchPattern = p.str(m, key, "matchPattern", "")
		if o.LogFormat == "" && o.MatchPattern == "" {
			p.failf(join(key, "logFormat"), "missing: one of COMMONAPACHELOG, COMBINEDAPACHELOG, APACHEERRORLOG, SYSLOG, RFC3339SYSLOG")
		}
		if o.MatchPattern != "" {
			re, err := regexp.Compile(o.MatchPattern)
			switch {
			case err != nil:
				p.failf(join(key, "matchPattern"), "invalid regular expression: %v", err)
			case !o.HasCustomFieldNames:
				p.failf(join(key, "customFieldNames"), "missing: matchPattern needs a name for each of its groups")
			case re.NumSubexp() != len(o.CustomFieldNames):
				p.failf(join(key, "customFieldNames"), "has %d names for the %d groups of matchPattern", len(o.CustomFieldNames), re.NumSubexp())
			}
		} else if o.HasCustomFieldNames {
			if n := FormatFieldCount(o.LogFormat); n != 0 && n != len(o.CustomFieldNames) {
				p.failf(join(key, "customFieldNames"), "has %d names; %s has %d fields", len(o.CustomFieldNames), o.LogFormat, n)
			}
		}
	case AddMetadata:
		raw, ok := m["metadata"]
		if !ok {
			raw = json.RawMessage("null") // as the Kinesis Agent: "metadata":null
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			p.failf(join(key, "metadata"), "invalid JSON: %v", err)
		}
		o.Metadata = buf.Bytes()
	}
	return o
}

// FormatFieldCount is the number of fields the predefined log format names.
func FormatFieldCount(format string) int {
	switch format {
	case CommonApacheLog:
		return 7
	case CombinedApacheLog:
		return 9
	case ApacheErrorLog:
		return 7
	case Syslog, RFC3339Syslog:
		return 5
	}
	return 0
}

func globCheck(pattern string) (bool, error) {
	if _, err := filepath.Match(pattern, ""); err != nil {
		return false, fmt.Errorf("%q is not a valid glob pattern: %w", pattern, err)
	}
	return true, nil
}
