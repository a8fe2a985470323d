package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/plexor/plexor/internal/config"
)

// congestionError is a failure to apply PLEXOR_TCP_CONGESTION.
type congestionError struct {
	name string
	err  error
}

func (e *congestionError) Error() string {
	return fmt.Sprintf("%sTCP_CONGESTION=%s: %v", config.EnvPrefix, e.name, e.err)
}

func (e *congestionError) Unwrap() error { return e.err }

// listen opens the service's TCP listener on addr. With congestion set,
// the listening socket gets that TCP congestion control algorithm, which
// every connection it accepts inherits (Linux only); empty leaves the
// system's default. Errors name the variable at fault.
func listen(addr, congestion string) (net.Listener, error) {
	var lc net.ListenConfig
	if congestion != "" {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var err error
			if cerr := c.Control(func(fd uintptr) { err = setCongestion(fd, congestion) }); cerr != nil {
				err = cerr
			}
			if err != nil {
				return &congestionError{name: congestion, err: err}
			}
			return nil
		}
	}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		if ce := (*congestionError)(nil); errors.As(err, &ce) {
			return nil, ce
		}
		return nil, fmt.Errorf("%sADDR=%s: %w", config.EnvPrefix, addr, err)
	}
	return ln, nil
}
