#!/usr/bin/env bash
# ab.sh compares this working tree with another revision on the comparison benchmarks,
# alternating the two builds run by run so that the machine's drift (other tenants,
# frequency) falls on both alike, then prints benchstat's verdict.
#
#   benchmarks/ab.sh [-n RUNS] [-bench REGEXP] [-benchtime N] REV
#
# RUNS defaults to 15 (a 5% difference is often within this machine's noise at 6),
# REGEXP to the in-process producer benchmarks. Run from anywhere in the repository.
set -euo pipefail
runs=15
bench='^BenchmarkProducer$/shards=/lib=kinesis-go-nohttp$'
benchtime=1000000x
while [ $# -gt 1 ]; do
	case "$1" in
	-n) runs=$2; shift 2 ;;
	-bench) bench=$2; shift 2 ;;
	-benchtime) benchtime=$2; shift 2 ;;
	*) break ;;
	esac
done
if [ $# -ne 1 ]; then
	sed -n '2,9p' "$0" >&2
	exit 2
fi
rev=$1
root=$(git rev-parse --show-toplevel)
go=${GO:-go}
benchstat=$(command -v benchstat || echo "$($go env GOPATH)/bin/benchstat")
[ -x "$benchstat" ] || $go install golang.org/x/perf/cmd/benchstat@latest

tmp=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$tmp/old" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git -C "$root" worktree add -q --detach "$tmp/old" "$rev"
# -mod=mod: older revisions may have a benchmarks/go.mod that is not tidy.
(cd "$tmp/old/benchmarks" && GOFLAGS=-mod=mod $go test -c -o "$tmp/old.test" .)
(cd "$root/benchmarks" && $go test -c -o "$tmp/new.test" .)

cd "$root/benchmarks" # the benchmarks read their test data relative to it
for i in $(seq "$runs"); do
	for v in old new; do
		"$tmp/$v.test" -test.run '^$' -test.bench "$bench" -test.benchtime "$benchtime" |
			grep -E '^(Benchmark|goos|goarch|pkg|cpu)' >>"$tmp/$v.txt"
	done
	echo "run $i of $runs done" >&2
done
"$benchstat" -filter '.unit:(sec/op OR cpu-ns/rec OR rec/s OR allocs/rec OR peak-heap-MB)' \
	"$rev=$tmp/old.txt" "working-tree=$tmp/new.txt"
