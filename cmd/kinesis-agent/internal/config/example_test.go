package config_test

import (
	"fmt"

	"github.com/kinesis-go/kinesis/cmd/kinesis-agent/internal/config"
)

func ExampleParse() {
	c, err := config.Parse("agent.json", []byte(`{
	  "flows": [{
	    "filePattern": "/var/log/app/*.log",
	    "kinesisStream": "app-logs",
	    "partitionKeyOption": "DETERMINISTIC",
	    "dataProcessingOptions": [{"optionName": "LOGTOJSON", "logFormat": "COMMONAPACHELOG"}]
	  }]
	}`))
	if err != nil {
		panic(err)
	}
	f := c.Flows[0]
	fmt.Println(f.ID(), f.PartitionKeyOption, f.InitialPosition, f.DataProcessingOptions[0].LogFormat)

	_, err = config.Parse("agent.json", []byte(`{"flows": [{"filePattern": "/a.log", "kinesisStream": "s", "fielPattern": "x"}]}`))
	fmt.Println(err != nil)
	// Output:
	// /var/log/app/*.log -> app-logs DETERMINISTIC END_OF_FILE COMMONAPACHELOG
	// true
}
