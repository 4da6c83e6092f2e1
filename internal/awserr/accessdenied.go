package awserr

import "strings"

// AccessDenied is the one shape of the access-denied errors of the public packages: the
// denied IAM action, the resource, what to grant and the AWS error. Each package's
// AccessDeniedError (fields Action, Resource, Err; Is matches the package's
// ErrAccessDenied; Unwrap returns the AWS error) formats itself with Message.
type AccessDenied struct {
	// Package prefixes the message ("producer", "consumer", "checkpoint").
	Package string
	// Action is the denied IAM action, e.g. "kinesis:GetRecords".
	Action string
	// Resource names what the action was denied on, as the reader knows it, e.g.
	// `stream "orders"` or `the lease table "app"`.
	Resource string
	// GrantOn is what to grant Action on (an ARN when known); "" means Resource.
	GrantOn string
	// Needs is a sentence on what else the caller needs or could do; optional.
	Needs string
	// Err is the AWS error.
	Err error
}

// Message is the error text: which call was denied on what, what to grant, what else is
// needed, then the AWS error.
func (d AccessDenied) Message() string {
	on := d.GrantOn
	if on == "" {
		on = d.Resource
	}
	var b strings.Builder
	b.WriteString(d.Package)
	b.WriteString(": access denied: this process's IAM identity may not call ")
	b.WriteString(d.Action)
	b.WriteString(" on ")
	b.WriteString(d.Resource)
	b.WriteString("; grant ")
	b.WriteString(d.Action)
	b.WriteString(" on ")
	b.WriteString(on)
	b.WriteString(" to its role or user")
	if d.Needs != "" {
		b.WriteString(". ")
		b.WriteString(d.Needs)
	}
	if d.Err != nil {
		b.WriteString(": ")
		b.WriteString(d.Err.Error())
	}
	return b.String()
}
