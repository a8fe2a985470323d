package config

import (
	"errors"
	"fmt"
	"net"

	"github.com/plexor/plexor/events/realplexor"
)

// loadRealplexor checks the variables of Realplexor's IN line and reads
// PLEXOR_REALPLEXOR_USERS into c.
func (c *Config) loadRealplexor() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", EnvPrefix, name, fmt.Sprintf(format, args...)))
	}
	users, err := realplexor.ParseUsers(c.RealplexorUsers)
	if err != nil {
		bad("REALPLEXOR_USERS", "%s", err)
	}
	c.realplexorUsers = users
	if c.RealplexorAddr == "" {
		if c.RealplexorUsers != "" {
			bad("REALPLEXOR_USERS", "has no effect without PLEXOR_REALPLEXOR_ADDR")
		}
		if c.RealplexorGuest {
			bad("REALPLEXOR_GUEST", "has no effect without PLEXOR_REALPLEXOR_ADDR")
		}
		return errors.Join(errs...)
	}
	if _, _, err := net.SplitHostPort(c.RealplexorAddr); err != nil {
		bad("REALPLEXOR_ADDR", "%q is not a listen address: use host:port, e.g. 127.0.0.1:10010 (Realplexor's own)", c.RealplexorAddr)
	}
	if err == nil && len(users) == 0 && !c.RealplexorGuest {
		bad("REALPLEXOR_ADDR", "nobody could publish on it: set PLEXOR_REALPLEXOR_USERS (LOGIN:PASSWORD pairs or a file) or PLEXOR_REALPLEXOR_GUEST=true")
	}
	return errors.Join(errs...)
}

// RealplexorUserList returns the logins of PLEXOR_REALPLEXOR_USERS, as Load
// read them.
func (c Config) RealplexorUserList() realplexor.Users { return c.realplexorUsers }
