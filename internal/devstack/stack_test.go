package devstack

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
)

func TestTakenPortNamesItsFlag(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, c := range []struct {
		o    Options
		flag string
	}{
		{Options{APIAddr: ln.Addr().String()}, "-addr"},
		{Options{APIAddr: "127.0.0.1:0", MetricsAddr: ln.Addr().String()}, "-metrics-addr"},
		{Options{APIAddr: "127.0.0.1:0", SimAddr: ln.Addr().String()}, "-sim-addr"},
	} {
		s, err := Start(context.Background(), c.o)
		var taken *PortTakenError
		if !errors.As(err, &taken) || taken.Flag != c.flag || !strings.Contains(err.Error(), ln.Addr().String()) {
			if s != nil {
				s.Stop()
			}
			t.Fatalf("Start with %s taken: %v", c.flag, err)
		}
	}
}
