package checkpointtest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// The suite's assertions, kept here so that the package adds no assertion
// library to the users' module. must stops the subtest, expect reports and
// goes on.
var (
	must   = checker{fatal: true}
	expect = checker{}
)

type checker struct{ fatal bool }

func (c checker) fail(t testing.TB, msgAndArgs []any, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if len(msgAndArgs) > 0 {
		if f, ok := msgAndArgs[0].(string); ok {
			msg = fmt.Sprintf(f, msgAndArgs[1:]...) + ": " + msg
		}
	}
	if c.fatal {
		t.Fatal(msg)
	}
	t.Error(msg)
}

func (c checker) NoError(t testing.TB, err error, msgAndArgs ...any) {
	t.Helper()
	if err != nil {
		c.fail(t, msgAndArgs, "unexpected error: %v", err)
	}
}

func (c checker) ErrorIs(t testing.TB, err, target error, msgAndArgs ...any) {
	t.Helper()
	if !errors.Is(err, target) {
		c.fail(t, msgAndArgs, "error %v does not match %v (errors.Is)", err, target)
	}
}

func (c checker) ErrorAs(t testing.TB, err error, target any, msgAndArgs ...any) {
	t.Helper()
	if !errors.As(err, target) {
		c.fail(t, msgAndArgs, "error %v is not a %T (errors.As)", err, target)
	}
}

func (c checker) Equal(t testing.TB, want, got any, msgAndArgs ...any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		c.fail(t, msgAndArgs, "not equal:\nwant %#v\ngot  %#v", want, got)
	}
}

func (c checker) False(t testing.TB, v bool, msgAndArgs ...any) {
	t.Helper()
	if v {
		c.fail(t, msgAndArgs, "want false")
	}
}

func (c checker) Len(t testing.TB, v any, n int, msgAndArgs ...any) {
	t.Helper()
	if l := reflect.ValueOf(v).Len(); l != n {
		c.fail(t, msgAndArgs, "length %d, want %d: %#v", l, n, v)
	}
}

func (c checker) Empty(t testing.TB, v any, msgAndArgs ...any) {
	t.Helper()
	rv := reflect.ValueOf(v)
	if v != nil && !rv.IsZero() && !(rv.Kind() == reflect.Slice || rv.Kind() == reflect.Map) || (rv.Kind() == reflect.Slice || rv.Kind() == reflect.Map) && rv.Len() > 0 {
		c.fail(t, msgAndArgs, "want empty, got %#v", v)
	}
}
