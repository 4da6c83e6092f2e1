package config

import (
	"errors"
	"testing"
)

// FuzzParse: any input either parses or fails with *Error values naming the file;
// nothing panics.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"flows":[{"filePattern":"/var/log/*.log","kinesisStream":"s"}]}`))
	f.Add([]byte(`{"flows":[{"filePattern":"/a","kinesisStream":"s","dataProcessingOptions":[{"optionName":"LOGTOJSON","logFormat":"SYSLOG","matchPattern":"(a)","customFieldNames":["x"]}]}]}`))
	f.Add([]byte(`{"flows":[{"filePattern":"/a","kinesisStream":"s","maxBufferSizeRecords":"12","aggregation":"true"}],"shutdownTimeoutMillis":-1}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.json", data)
		if err == nil {
			if len(c.Flows) == 0 {
				t.Fatal("parsed without flows")
			}
			return
		}
		var ce *Error
		if !errors.As(err, &ce) || ce.File != "fuzz.json" {
			t.Fatalf("error %v is not a *Error naming the file", err)
		}
	})
}
