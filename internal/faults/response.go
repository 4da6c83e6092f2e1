package faults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
)

var requestIDs atomic.Uint64

// jsonResponse builds a synthesized response with an AWS JSON body.
func jsonResponse(req *http.Request, c *Call, status int, body []byte) *http.Response {
	ct := "application/x-amz-json-1.1"
	if c.Service == ServiceDynamoDB {
		ct = "application/x-amz-json-1.0"
	}
	h := http.Header{}
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Amzn-Requestid", fmt.Sprintf("faults-%08d", requestIDs.Add(1)))
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// errorResponse is the AWS JSON-protocol error the SDK parses: the code in
// X-Amzn-ErrorType and in the body's __type, the message in the body.
func errorResponse(req *http.Request, c *Call, status int, code, message string) *http.Response {
	body, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{code, message})
	resp := jsonResponse(req, c, status, body)
	resp.Header.Set("X-Amzn-ErrorType", code)
	return resp
}

// resetError is what net/http's transport returns when the peer resets the connection
// while the response is awaited.
func resetError(req *http.Request) error {
	var addr net.Addr
	host := req.URL.Host
	if req.URL.Port() == "" {
		if req.URL.Scheme == "https" {
			host += ":443"
		} else {
			host += ":80"
		}
	}
	if ap, err := netip.ParseAddrPort(host); err == nil {
		addr = net.TCPAddrFromAddrPort(ap)
	}
	return &net.OpError{Op: "read", Net: "tcp", Addr: addr, Err: os.NewSyscallError("read", syscall.ECONNRESET)}
}
