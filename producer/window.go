package producer

import (
	"time"
)

// sendWindow bounds the bytes of the PutRecords calls in flight by the throughput
// the endpoint was seen to have, so that a slow endpoint (a slow link, an emulator)
// gets fewer and smaller calls instead of calls that outlive RequestTimeout: a call
// that times out is retried and, having possibly been written, writes each of its
// Kinesis records (whole aggregates) twice. Only the dispatcher goroutine uses it.
//
// The estimate is Little's law: a call that had w bytes in flight (its own and the
// calls ahead of it) when it started and took d to answer saw the endpoint take about
// w/d bytes per second. The window is that rate times a quarter of RequestTimeout,
// so that calls answer well within their timeout. It starts at windowStart and may
// at most double per answer (the estimate is low while calls are latency-bound), up
// to MaxConnections full calls; a timed-out call counts as taking RequestTimeout,
// which divides the window by four. Calls are cut at half the window, so that two
// can be in flight, and one call is always allowed when none is in flight.
type sendWindow struct {
	limit    float64 // bytes allowed in flight
	max      float64
	inflight int64   // bytes in flight
	target   float64 // seconds a call should take at most: RequestTimeout/4
}

// windowStart is the window before any call answered: small enough that the first
// burst cannot time out on an endpoint that takes 1 MB/s with the default
// RequestTimeout, and doubled within a few round trips on a fast one.
const windowStart = 1 << 20

// minCallSize is the size below which calls are never cut by the window.
const minCallSize = 64 << 10

func newSendWindow(o *Options) sendWindow {
	most := float64(o.MaxConnections) * float64(o.CollectionMaxSize)
	return sendWindow{limit: min(windowStart, most), max: most, target: o.RequestTimeout.Seconds() / 4}
}

// allows reports whether a call of size bytes may start now (calls in flight).
func (w *sendWindow) allows(size, calls int) bool {
	return calls == 0 || float64(w.inflight+int64(size)) <= w.limit
}

// callSize is the most bytes a call is filled with: half the window, within
// minCallSize..max.
func (w *sendWindow) callSize(limit int) int {
	return min(limit, int(max(w.limit/2, minCallSize)))
}

// started counts a call of size bytes in flight and returns the bytes in flight with it.
func (w *sendWindow) started(size int) int64 {
	w.inflight += int64(size)
	return w.inflight
}

// answered updates the window with a call of size bytes that had ahead bytes in
// flight when it started and took took; measured is false when the call failed in a
// way that says nothing about throughput (it then only leaves the window).
func (w *sendWindow) answered(size int, ahead int64, took time.Duration, measured bool) {
	w.inflight -= int64(size)
	if !measured || took <= 0 {
		return
	}
	rate := float64(ahead) / took.Seconds()
	w.limit = min(max(rate*w.target, minCallSize), 2*w.limit, w.max)
}
