// Package jsonstr writes Go strings as JSON strings the way the AWS SDK for Go v2
// does (smithy-go's JSON encoder), without reflection or allocation: the producer's
// hand-written PutRecords body must be byte-identical to the SDK's, and every other
// JSON string this module writes by hand (the Kinesis Agent's log-to-JSON
// conversions) uses the same escaping so that there is one.
//
// The escaping: '"' and '\' backslash-escaped; \n, \r and \t as short escapes; other
// control characters and DEL as \u00xx; each byte of invalid UTF-8 replaced by
// U+FFFD; U+2028 and U+2029 as \u2028 and \u2029 (JavaScript line terminators);
// everything else, '<', '>', '&' and non-ASCII included, as it is.
package jsonstr
