package testenv

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// leakOptions ignore goroutines that outlive tests by design and own no work:
// idle keep-alive connections of HTTP clients (the AWS SDK's, the OpenAI
// SDK's), which their transports close when idle long enough, and the
// standard library's own long-lived helpers.
var leakOptions = []goleak.Option{
	goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
	goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
	goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
}

// CheckLeaks reports goroutines the tests left running and answers the exit
// code: 0 when there are none, 1 otherwise. Main calls it; packages without
// services call it from their own TestMain through LeakMain.
func CheckLeaks() int {
	if err := goleak.Find(leakOptions...); err != nil {
		fmt.Fprintf(os.Stderr, "goleak: goroutines outlived the tests:\n%v\n", err)
		return 1
	}
	return 0
}

// LeakMain runs a package's tests that start no services, then checks for
// leaked goroutines.
func LeakMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		code = CheckLeaks()
	}
	os.Exit(code)
}
