package consumer

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
)

// maxLoggedPanics bounds the panics a worker remembers having logged; when it is
// reached the memory starts again, so a stack is at worst logged again later.
const maxLoggedPanics = 256

// panicLog remembers which panics had their stack logged, so that a processor that
// panics on every retry logs its stack once, then a short line per attempt.
type panicLog struct {
	mu   sync.Mutex
	seen map[string]struct{}
}

// firstTime reports whether this is the first time the worker logs e, and remembers it.
// Panics are the same when the method, the panic value and the panicking call stack
// (program counters, so goroutine ids and argument values do not matter) are.
func (l *panicLog) firstTime(e *PanicError) bool {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\x00%v\x00%x", e.Method, e.Value, e.pcs)
	key := b.String()
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.seen[key]; ok {
		return false
	}
	if l.seen == nil || len(l.seen) >= maxLoggedPanics {
		l.seen = make(map[string]struct{})
	}
	l.seen[key] = struct{}{}
	return true
}

// newPanicError turns the value v recovered from a panic in method into a *PanicError;
// it must be called by the deferred function that recovered.
func newPanicError(method string, v any, stack []byte) *PanicError {
	pcs := make([]uintptr, 32)
	n := runtime.Callers(3, pcs) // from the panicking frames (skip Callers, this, the deferred func)
	return &PanicError{Method: method, Value: v, Stack: stack, pcs: pcs[:n]}
}

// processorFailure returns the message and log attributes for a processor call that
// failed with err: a panic's stack only the first time the worker sees that panic.
func (s *shard) processorFailure(method, what string, err error) (string, []any) {
	var pe *PanicError
	if !errors.As(err, &pe) {
		return "RecordProcessor." + method + " failed; " + what, []any{"error", err}
	}
	msg := "RecordProcessor." + method + " panicked; " + what
	if s.w.panics.firstTime(pe) {
		return msg, []any{"panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack)}
	}
	return msg + " (same panic as logged before with its stack)", []any{"panic", fmt.Sprint(pe.Value)}
}
