// Package process applies the Kinesis Agent's data processing options to records
// (SINGLELINE, CSVTOJSON, LOGTOJSON with the COMMONAPACHELOG, COMBINEDAPACHELOG,
// APACHEERRORLOG, SYSLOG and RFC3339SYSLOG formats or a matchPattern, and
// ADDMETADATA) and picks records' partition keys.
//
// Each option works like the Kinesis Agent's: the record's trailing newline is
// removed, the record is converted, and the result ends with a newline. LOGTOJSON
// drops records that do not match the format (the agent counts them as filtered).
// JSON is written with the fields in the format's order, "-" fields of the Apache
// formats and groups that did not take part in the match as null.
package process
