package sink

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// The examples of Firehose's "Custom Prefixes for Amazon S3 Objects" page, evaluated at
// 10:30 AM UTC on Aug 27, 2018 as the page says. Where the page's own table contradicts
// its rules or its timestamp the rule wins, and the comment says what the page shows.
func TestPrefixesOfFirehoseDocumentation(t *testing.T) {
	at := time.Date(2018, 8, 27, 10, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		name                 string
		prefix, errorPrefix  string
		wantData, wantErrors string // regular expressions for random strings
	}{
		{
			// The page shows "2018/08/27/10"; its rule appends !{timestamp:yyyy/MM/dd/HH/}.
			name: "unspecified prefix", errorPrefix: "myFirehoseFailures/!{firehose:error-output-type}/",
			wantData: "2018/08/27/10/", wantErrors: "myFirehoseFailures/processing-failed/",
		},
		{
			// The page shows day "10" for !{timestamp:dd}: the hour, a typo.
			name:        "random string and repeated timestamps",
			prefix:      "myFirehose/DeliveredYear=!{timestamp:yyyy}/anyMonth/rand=!{firehose:random-string}",
			errorPrefix: "myFirehoseFailures/!{firehose:error-output-type}/!{timestamp:yyyy}/anyMonth/!{timestamp:dd}",
			wantData:    "myFirehose/DeliveredYear=2018/anyMonth/rand=[0-9a-f]{11}",
			wantErrors:  "myFirehoseFailures/processing-failed/2018/anyMonth/27",
		},
		{
			// The page shows 2018/07/06 23h, another instant than the table's heading.
			name:        "hive-style time folders",
			prefix:      "myPrefix/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/",
			errorPrefix: "myErrorPrefix/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/!{firehose:error-output-type}",
			wantData:    "myPrefix/year=2018/month=08/day=27/hour=10/",
			wantErrors:  "myErrorPrefix/year=2018/month=08/day=27/hour=10/processing-failed",
		},
		{
			// The page shows myFirehosePrefix/2018/08/27/; its rule appends the time
			// folders to the text as it is.
			name: "literal prefix, no error prefix", prefix: "myFirehosePrefix",
			wantData: "myFirehosePrefix2018/08/27/10/", wantErrors: "myFirehosePrefixprocessing-failed/2018/08/27/10/",
		},
		{
			name: "firehose namespace table", prefix: "myPrefix/!{firehose:random-string}/",
			errorPrefix: "myPrefix/result=!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}",
			wantData:    "myPrefix/[0-9a-f]{11}/", wantErrors: "myPrefix/result=processing-failed/2018/08/27",
		},
		{
			name: "quoted text in a pattern", prefix: "!{timestamp:yyyy'-q'}/",
			wantData: "2018-q/", wantErrors: "processing-failed/2018/08/27/10/",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := resolvePrefixes(tc.prefix, tc.errorPrefix, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			v := prefixValues{time: at, seed: "s-shard-1-2", errorType: ErrorOutputProcessingFailed}
			if got := p.data.render(v); !regexp.MustCompile("^" + tc.wantData + "$").MatchString(got) {
				t.Errorf("Prefix %q evaluates to %q, want %q", tc.prefix, got, tc.wantData)
			}
			if got := p.errors.render(v); !regexp.MustCompile("^" + tc.wantErrors + "$").MatchString(got) {
				t.Errorf("ErrorOutputPrefix %q evaluates to %q, want %q", tc.errorPrefix, got, tc.wantErrors)
			}
		})
	}
}

// The dynamic partitioning page's example: its record and jq expressions, its prefix.
func TestPrefixOfFirehoseDynamicPartitioningExample(t *testing.T) {
	record := []byte(`{"type": {"device": "mobile", "event": "user_clicked_submit_button"}, "customer_id": "1234567890", "event_timestamp": 1565382027, "region": "sample_region"}`)
	queries := map[string]string{"customer_id": ".customer_id", "device": ".type.device"}
	p, err := resolvePrefixes("customer_id=!{partitionKeyFromQuery:customer_id}/device=!{partitionKeyFromQuery:device}/", "", queries, false)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for k, q := range queries {
		jq, err := parseJSONQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		if keys[k], err = jq.eval(record); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.data.render(prefixValues{queryKeys: keys}); got != "customer_id=1234567890/device=mobile/" {
		t.Errorf("evaluates to %q", got)
	}
	if got := p.errors.render(prefixValues{time: time.Date(2019, 8, 9, 20, 0, 0, 0, time.UTC), errorType: ErrorOutputProcessingFailed}); got != "processing-failed/2019/08/09/20/" {
		t.Errorf("default error prefix evaluates to %q", got)
	}
}

func TestRandomStringIsStablePerObjectAndNewPerExpression(t *testing.T) {
	tpl, err := parseTemplate("!{firehose:random-string}/!{firehose:random-string}/")
	if err != nil {
		t.Fatal(err)
	}
	a := tpl.render(prefixValues{seed: "s-shard-1-2"})
	if b := tpl.render(prefixValues{seed: "s-shard-1-2"}); a != b {
		t.Errorf("same object, two names: %q, %q", a, b)
	}
	if c := tpl.render(prefixValues{seed: "s-shard-3-4"}); a == c {
		t.Errorf("two objects, one random string %q", a)
	}
	if parts := strings.Split(a, "/"); parts[0] == parts[1] {
		t.Errorf("two expressions, one string: %q", a)
	}
}

func TestTimestampPatterns(t *testing.T) {
	at := time.Date(2018, 8, 7, 13, 5, 9, 123456789, time.UTC)
	for pattern, want := range map[string]string{
		"yyyy/MM/dd/HH/":           "2018/08/07/13/",
		"yy-M-d H:m:s":             "18-8-7 13:5:9",
		"MMM MMMM":                 "Aug August",
		"D DDD":                    "219 219",
		"hh a":                     "01 PM",
		"EEE EEEE":                 "Tue Tuesday",
		"ss.SSS":                   "09.123",
		"'year='yyyy''''":          "year=2018''",
		"uuuu-LL":                  "2018-08",
		"yyyy'/quoted/'MM 'it''s'": "2018/quoted/08 it's",
	} {
		l, err := parseTimeLayout(pattern)
		if err != nil {
			t.Errorf("%q: %v", pattern, err)
			continue
		}
		if got := string(l.appendTime(nil, at)); got != want {
			t.Errorf("%q gives %q, want %q", pattern, got, want)
		}
	}
	for _, bad := range []string{"YYYY", "yyyyy", "'open", "Q", "[yyyy]", "dd#"} {
		if _, err := parseTimeLayout(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestTemplateSyntaxErrors(t *testing.T) {
	for _, bad := range []string{"a!{timestamp:yyyy", "!{timestamp}", "!{firehose:uuid}", "!{nope:x}", "!{timestamp:}"} {
		if _, err := parseTemplate(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"", "a/!{timestamp:yyyy/MM}/", "!{firehose:random-string}", "!{partitionKeyFromQuery:k}!{timestamp:'x''y'HH}", "!{"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tpl, err := parseTemplate(s)
		if err != nil {
			return
		}
		v := prefixValues{time: time.Unix(1535365800, 0), seed: "x", queryKeys: map[string]string{}, lambdaKeys: map[string]string{}}
		if a, b := tpl.render(v), tpl.render(v); a != b {
			t.Fatalf("%q renders %q then %q", s, a, b)
		}
		if !strings.Contains(s, "!{") && tpl.render(v) != s {
			t.Fatalf("literal %q renders %q", s, tpl.render(v))
		}
	})
}
