// Package parquet is the Parquet format of package sink: objects written as Parquet
// files of a Go struct type, one row group per object, with Snappy, gzip or zstd
// columns. It is a package of its own so that only programs that write Parquet link the
// Parquet library.
//
//	format, err := parquet.New[Trade]()
//	archive := sink.New(dest, func(o *sink.Options) {
//		o.StreamName = "trades"
//		o.Format = format
//	})
//
// Records are decoded from JSON into the struct by default (Options.Decode to change
// it); a record that does not decode goes to the sink's error output with the type
// format-conversion-failed, like Firehose's record format conversion, but without a Glue
// table: the schema is the struct's.
package parquet
