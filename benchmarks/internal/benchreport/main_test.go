package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `goos: linux
cpu: Some CPU @ 2.0GHz
BenchmarkProducer/shards=4/lib=kinesis-go-2    1000000    1700 ns/op    1500 cpu-ns/rec    0 pk-rewritten-%
BenchmarkProducer/shards=4/lib=kinesis-go-2    1000000    1900 ns/op    1300 cpu-ns/rec    0 pk-rewritten-%
BenchmarkProducer/shards=4/lib=kinesis-go-2    1000000    1800 ns/op    1400 cpu-ns/rec    0 pk-rewritten-%
BenchmarkProducer/shards=4/lib=a8m-2           1000000    1100 ns/op    2800 cpu-ns/rec    99.85 pk-rewritten-%
some log line BenchmarkNot 1 2 ns/op
BenchmarkAggregation/lib=floor-2               3000000     280 ns/op     700 cpu-ns/rec
PASS
`

func TestParseAndMedians(t *testing.T) {
	r := parse(strings.NewReader(sample))
	if r.cpu != "Some CPU @ 2.0GHz" || r.procs != "2" {
		t.Fatalf("cpu %q procs %q", r.cpu, r.procs)
	}
	if got := r.runs("Producer/shards=4/lib=kinesis-go"); got != 3 {
		t.Fatalf("runs = %d, want 3", got)
	}
	if v, ok := r.median("Producer/shards=4/lib=kinesis-go", "cpu-ns/rec"); !ok || v != 1400 {
		t.Fatalf("median = %v %v, want 1400", v, ok)
	}
	if _, ok := r.median("Producer/shards=4/lib=kinesis-go", "no-such-unit"); ok {
		t.Fatal("median of a missing unit")
	}
	if got := r.ratio("Producer/shards=4/lib=a8m", "Producer/shards=4/lib=kinesis-go", "cpu-ns/rec"); got != "2.00×" {
		t.Fatalf("ratio = %q", got)
	}
	if got := r.cell("Producer/shards=4/lib=a8m", "pk-rewritten-%"); got != "99.8" {
		t.Fatalf("cell = %q", got)
	}
	if r.has("Not") {
		t.Fatal("a log line was parsed as a benchmark")
	}
}

func TestSummaryHasRatiosToTheFloor(t *testing.T) {
	var b strings.Builder
	writeSummary(&b, parse(strings.NewReader(sample)))
	out := b.String()
	for _, want := range []string{
		"| 4 | kinesis-go (this module), HTTP fake | – | – | 1400 | 1.00× | 2.00× |",
		"| 4 | a8m/kinesis-producer, HTTP fake | – | – | 2800 | 2.00× | 4.00× |",
		"uses 2.00× the CPU per record of kinesis-go",
		"gives 99.8% of the records another partition key",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestReplaceSectionKeepsTheRest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "B.md")
	if err := os.WriteFile(path, []byte("# Title\n\nhand-written\n\n"+beginMarker+"\nold\n"+endMarker+"\n\ntail\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := replaceSection(path, "new\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "# Title\n\nhand-written\n\n" + beginMarker + "\n\nnew\n" + endMarker + "\n\ntail\n"
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}

	// Without markers the section is appended.
	if err := os.WriteFile(path, []byte("# Title"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := replaceSection(path, "x\n"); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(path)
	if !strings.HasPrefix(string(got), "# Title\n\n"+beginMarker) || !strings.HasSuffix(string(got), endMarker+"\n") {
		t.Fatalf("got %q", got)
	}
}
