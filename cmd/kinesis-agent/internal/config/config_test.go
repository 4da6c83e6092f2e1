package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDefaults(t *testing.T) {
	c, err := Parse("agent.json", []byte(`{"flows":[{"filePattern":"/var/log/a.log","kinesisStream":"s"}]}`))
	require.NoError(t, err)
	assert.True(t, c.Aggregation)
	assert.Equal(t, 10*time.Second, c.ShutdownTimeout)
	assert.Equal(t, time.Second, c.CheckpointInterval)
	assert.Equal(t, int64(8<<20), c.MaxBufferedBytes)
	assert.Equal(t, 4, c.MaxConnections)
	assert.Equal(t, 1<<20, c.Flows[0].MaxBufferSizeBytes)
	f := c.Flows[0]
	assert.Equal(t, "RANDOM", f.PartitionKeyOption)
	assert.Equal(t, "END_OF_FILE", f.InitialPosition)
	assert.Equal(t, "\n", f.TruncatedRecordTerminator)
	assert.Equal(t, 100*time.Millisecond, f.PollInterval)
	assert.Equal(t, 5*time.Second, f.PartialLineTimeout)
}

func TestParseEveryKey(t *testing.T) {
	c, err := Parse("agent.json", []byte(`{
		"kinesis.endpoint": "http://127.0.0.1:4567", "kinesis.region": "eu-west-1",
		"awsAccessKeyId": "AK", "awsSecretAccessKey": "SK", "shutdownTimeoutMillis": "2500",
		"log.level": "debug", "checkpointIntervalMillis": 500, "statusIntervalMillis": -1,
		"aggregation": false, "maxBufferedBytes": 8388608, "maxConnections": 2, "recordTtlMillis": 1000,
		"cloudwatch.emitMetrics": true,
		"flows": [{
			"filePattern": "/var/log/app/*.log", "kinesisStream": "s",
			"partitionKeyOption": "DETERMINISTIC", "partitionKeyPattern": "user=(\\w+)",
			"initialPosition": "START_OF_FILE", "maxBufferAgeMillis": 250,
			"maxBufferSizeRecords": 100, "maxBufferSizeBytes": 1048576, "skipHeaderLines": 1,
			"multiLineStartPattern": "^\\d{4}-", "truncatedRecordTerminator": "...\n",
			"minTimeBetweenFilePollsMillis": 50, "maxTimeBetweenFileTrackerRefreshMillis": 200,
			"partialLineTimeoutMillis": 2000, "retryInitialBackoffMillis": 10, "retryMaxBackoffMillis": 20,
			"publishQueueCapacity": 100,
			"dataProcessingOptions": [
				{"optionName": "SINGLELINE"},
				{"optionName": "CSVTOJSON", "customFieldNames": ["a","b"], "delimiter": "\\t"},
				{"optionName": "LOGTOJSON", "logFormat": "SYSLOG", "customFieldNames": ["t","h","p","i","m"]},
				{"optionName": "LOGTOJSON", "logFormat": "COMMONAPACHELOG", "matchPattern": "^(\\S+) (\\S+)$", "customFieldNames": ["a","b"]},
				{"optionName": "ADDMETADATA", "metadata": {"env": "prod", "n": [1, 2]}, "jsonFormat": "PRETTYPRINT"}
			]
		}]
	}`))
	require.NoError(t, err)
	assert.Equal(t, "DEBUG", c.LogLevel)
	assert.Equal(t, 2500*time.Millisecond, c.ShutdownTimeout)
	assert.Equal(t, time.Duration(-1)*time.Millisecond, c.StatusInterval)
	assert.False(t, c.Aggregation)
	assert.Len(t, c.Warnings, 2, "cloudwatch.emitMetrics and publishQueueCapacity are accepted and ignored")
	f := c.Flows[0]
	assert.Equal(t, "user=(\\w+)", f.PartitionKeyPattern.String())
	assert.Equal(t, 200*time.Millisecond, f.RefreshInterval)
	require.Len(t, f.DataProcessingOptions, 5)
	assert.Equal(t, `{"env":"prod","n":[1,2]}`, string(f.DataProcessingOptions[4].Metadata))
	assert.Equal(t, "PRETTYPRINT", f.DataProcessingOptions[4].JSONFormat)
}

// Each bad configuration fails with an *Error naming the file and the exact key.
func TestParseErrorsNameFileAndKey(t *testing.T) {
	for _, tc := range []struct {
		name, json, key string
		is              error
	}{
		{"unknown top-level key", `{"flows":[{"filePattern":"/a","kinesisStream":"s"}],"flowz":[]}`, "flowz", ErrUnknownKey},
		{"unknown flow key", `{"flows":[{"filePattern":"/a","kinesisStream":"s","fielPattern":"/b"}]}`, "flows[0].fielPattern", ErrUnknownKey},
		{"unknown option key", `{"flows":[{"filePattern":"/a","kinesisStream":"s","dataProcessingOptions":[{"optionName":"SINGLELINE","delimiter":","}]}]}`, "flows[0].dataProcessingOptions[0].delimiter", ErrUnknownKey},
		{"firehose", `{"flows":[{"filePattern":"/a","deliveryStream":"d"}]}`, "flows[0].deliveryStream", ErrUnsupported},
		{"checkpointFile", `{"checkpointFile":"/x","flows":[{"filePattern":"/a","kinesisStream":"s"}]}`, "checkpointFile", ErrUnsupported},
		{"missing stream", `{"flows":[{"filePattern":"/a"}]}`, "flows[0].kinesisStream", nil},
		{"relative pattern", `{"flows":[{"filePattern":"a.log","kinesisStream":"s"}]}`, "flows[0].filePattern", nil},
		{"bad glob", `{"flows":[{"filePattern":"/a[","kinesisStream":"s"}]}`, "flows[0].filePattern", nil},
		{"bad enum", `{"flows":[{"filePattern":"/a","kinesisStream":"s","initialPosition":"MIDDLE"}]}`, "flows[0].initialPosition", nil},
		{"out of range", `{"flows":[{"filePattern":"/a","kinesisStream":"s","maxBufferSizeRecords":501}]}`, "flows[0].maxBufferSizeRecords", nil},
		{"not a number", `{"flows":[{"filePattern":"/a","kinesisStream":"s","skipHeaderLines":"x"}]}`, "flows[0].skipHeaderLines", nil},
		{"bad regexp", `{"flows":[{"filePattern":"/a","kinesisStream":"s","multiLineStartPattern":"("}]}`, "flows[0].multiLineStartPattern", nil},
		{"csv without names", `{"flows":[{"filePattern":"/a","kinesisStream":"s","dataProcessingOptions":[{"optionName":"CSVTOJSON"}]}]}`, "flows[0].dataProcessingOptions[0].customFieldNames", nil},
		{"bad log format", `{"flows":[{"filePattern":"/a","kinesisStream":"s","dataProcessingOptions":[{"optionName":"LOGTOJSON","logFormat":"NGINX"}]}]}`, "flows[0].dataProcessingOptions[0].logFormat", nil},
		{"field count", `{"flows":[{"filePattern":"/a","kinesisStream":"s","dataProcessingOptions":[{"optionName":"LOGTOJSON","logFormat":"SYSLOG","customFieldNames":["a"]}]}]}`, "flows[0].dataProcessingOptions[0].customFieldNames", nil},
		{"pattern group count", `{"flows":[{"filePattern":"/a","kinesisStream":"s","dataProcessingOptions":[{"optionName":"LOGTOJSON","logFormat":"SYSLOG","matchPattern":"(a)(b)","customFieldNames":["a"]}]}]}`, "flows[0].dataProcessingOptions[0].customFieldNames", nil},
		{"ec2 metadata", `{"flows":[{"filePattern":"/a","kinesisStream":"s","dataProcessingOptions":[{"optionName":"ADDEC2METADATA"}]}]}`, "flows[0].dataProcessingOptions[0].optionName", ErrUnsupported},
		{"duplicate flow", `{"flows":[{"filePattern":"/a","kinesisStream":"s"},{"filePattern":"/a","kinesisStream":"s"}]}`, "flows[1]", nil},
		{"no flows", `{}`, "flows", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("/etc/agent.json", []byte(tc.json))
			require.Error(t, err)
			var ce *Error
			require.True(t, errors.As(err, &ce), "%v", err)
			assert.Equal(t, "/etc/agent.json", ce.File)
			assert.Equal(t, tc.key, ce.Key, "%v", err)
			assert.True(t, strings.HasPrefix(err.Error(), "/etc/agent.json: "+tc.key+": "), "%v", err)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"flows":[{"filePattern":"/a","kinesisStream":"s","nope":1}]}`), 0o600))
	_, err := Load(path)
	require.ErrorContains(t, err, path+": flows[0].nope: unknown key")
	_, err = Load(filepath.Join(t.TempDir(), "missing.json"))
	require.ErrorIs(t, err, os.ErrNotExist)
}
