package awserr

import (
	"errors"
	"testing"
)

func TestAccessDeniedMessageNamesTheActionTheResourceAndWhatToGrant(t *testing.T) {
	got := AccessDenied{Package: "consumer", Action: "kinesis:GetRecords", Resource: "stream orders",
		Needs: "The consumer needs kinesis:ListShards too", Err: errors.New("AccessDeniedException: no")}.Message()
	want := "consumer: access denied: this process's IAM identity may not call kinesis:GetRecords on stream orders; " +
		"grant kinesis:GetRecords on stream orders to its role or user. The consumer needs kinesis:ListShards too: AccessDeniedException: no"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	got = AccessDenied{Package: "checkpoint", Action: "dynamodb:Scan", Resource: `the lease table "t"`, GrantOn: "arn:aws:dynamodb:r:a:table/t"}.Message()
	want = `checkpoint: access denied: this process's IAM identity may not call dynamodb:Scan on the lease table "t"; grant dynamodb:Scan on arn:aws:dynamodb:r:a:table/t to its role or user`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
