package process

import (
	"regexp"

	"github.com/kinesis-go/kinesis/cmd/kinesis-agent/internal/config"
)

// The building blocks of the predefined log formats: the same grammar as the
// Kinesis Agent's (itself from the Logstash grok patterns), in RE2 syntax.
const (
	reInt        = `(?:[+-]?(?:[0-9]+))`
	rePosInt     = `(?:[1-9][0-9]*)`
	reNonNegInt  = `(?:[0-9]+)`
	reWord       = `\w+`
	reNoQuote    = `[^"]+`
	reIP         = `(?:[\d\.]+)`
	reHostname   = `(?:[\w\-]+)(?:\.(?:[\w\-]+))*(?:\.?|\b)`
	reIPOrHost   = `(?:` + reHostname + `|` + reIP + `)`
	reURIHost    = `(?:` + reIPOrHost + `(?::` + rePosInt + `)?)`
	reUser       = `(?:[a-zA-Z0-9._-]+)`
	reMonthDay   = `(?:(?:0[1-9])|(?:[12][0-9])|(?:3[01])|[1-9])`
	reDay        = `(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?|Sat(?:urday)?|Sun(?:day)?)`
	reMonth      = `\b(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|Jun(?:e)?|Jul(?:y)?|Aug(?:ust)?|Sep(?:tember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\b`
	reYear       = `(?:[1-9]\d*)`
	reHour       = `(?:2[0123]|[01]?[0-9])`
	reMinute     = `(?:[0-5][0-9])`
	reSecond     = `(?:(?:[0-5]?[0-9]|60)(?:[:\.,][0-9]+)?)`
	reTime       = `(?:` + reHour + `:` + reMinute + `:` + reSecond + `)`
	reHTTPDate   = `(?:` + reMonthDay + `/` + reMonth + `/` + reYear + `:` + reTime + `\s` + reInt + `)`
	reErrorTime  = `(?:` + reDay + `\s+` + reMonth + `\s+` + reMonthDay + `\s+` + reTime + `\s+` + reYear + `)`
	reSyslogTS   = `(?:` + reMonth + `\s+` + reMonthDay + `\s+` + reTime + `)`
	reRFC3339    = `(?:\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?)(?:Z|(?:[-+]\d{2}:\d{2}))`
	reFacility   = `<` + reNonNegInt + `.` + reNonNegInt + `>`
	reProg       = `([\w\._/%-]+)`
	reSyslogProg = reProg + `(?:\[(` + rePosInt + `)\])?`

	reCommonLog = `(` + reIPOrHost + `) (` + reUser + `) (` + reUser + `) \[(` + reHTTPDate + `)\] "(` + reNoQuote + `)" (` + reInt + `|\-) (` + reInt + `|\-)`
	reCombined  = reCommonLog + ` "(` + reNoQuote + `)" "(` + reNoQuote + `)"`
	reErrorLog  = `\[(` + reErrorTime + `)\] \[(?:(` + reWord + `):)?(` + reWord + `)\] \[pid (` + reNonNegInt + `)(?::tid (` + reNonNegInt + `))?\] \[client (` + reURIHost + `)\] (.*)`
	reSyslog    = `(` + reSyslogTS + `) (?:` + reFacility + ` )?(` + reUser + `) ` + reSyslogProg + `: (.*)`
	reRFCSyslog = `(` + reRFC3339 + `) (?:` + reFacility + ` )?(` + reUser + `) ` + reSyslogProg + `: (.*)`
)

// logFormat is a predefined LOGTOJSON format: its pattern (matched against the
// whole record), field names, and whether "-" means a missing value (Apache).
type logFormat struct {
	pattern    string
	fields     []string
	dashIsNull bool
}

var logFormats = map[string]logFormat{
	config.CommonApacheLog: {reCommonLog + `.*`,
		[]string{"host", "ident", "authuser", "datetime", "request", "response", "bytes"}, true},
	config.CombinedApacheLog: {reCombined + `.*`,
		[]string{"host", "ident", "authuser", "datetime", "request", "response", "bytes", "referer", "agent"}, true},
	config.ApacheErrorLog: {reErrorLog,
		[]string{"timestamp", "module", "severity", "processid", "threadid", "client", "message"}, true},
	config.Syslog: {reSyslog,
		[]string{"timestamp", "hostname", "program", "processid", "message"}, false},
	config.RFC3339Syslog: {reRFCSyslog,
		[]string{"timestamp", "hostname", "program", "processid", "message"}, false},
}

// wholeMatch compiles pattern so that it must match the whole record, as the
// Kinesis Agent's Matcher.matches does.
func wholeMatch(pattern string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + pattern + `)$`)
}
