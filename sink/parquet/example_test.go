package parquet_test

import (
	"bytes"
	"fmt"

	pq "github.com/parquet-go/parquet-go"

	"github.com/kinesis-go/kinesis/sink/parquet"
)

// Trade is a row: the parquet tags name the columns, the json tags the record's fields.
type Trade struct {
	Ticker string  `parquet:"ticker" json:"tickerSymbol"`
	Price  float64 `parquet:"price" json:"price"`
	Shares int64   `parquet:"shares" json:"quantity"`
}

func Example() {
	format, err := parquet.New[Trade]()
	if err != nil {
		panic(err)
	}
	// The sink calls the format like this for each object; pass format as
	// sink.Options.Format.
	var file bytes.Buffer
	enc := format.NewEncoder(&file)
	for _, rec := range []string{`{"tickerSymbol":"AAPL","price":190.5,"quantity":10}`, `not json`, `{"tickerSymbol":"MSFT","price":420,"quantity":3}`} {
		if err := enc.Encode([]byte(rec)); err != nil {
			fmt.Println("to the error output:", rec)
		}
	}
	_ = enc.Close()

	rows, _ := pq.Read[Trade](bytes.NewReader(file.Bytes()), int64(file.Len()))
	fmt.Println(format.Extension(), rows)
	// Output:
	// to the error output: not json
	// .parquet [{AAPL 190.5 10} {MSFT 420 3}]
}
