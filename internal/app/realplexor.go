package app

import (
	"context"
	"log/slog"
	"net"

	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/events/realplexor"
	"github.com/plexor/plexor/internal/config"
)

// inLine is Realplexor's IN line when PLEXOR_REALPLEXOR_ADDR is set.
type inLine struct {
	srv    *realplexor.Server
	served chan error // Serve's result
}

// startRealplexor opens PLEXOR_REALPLEXOR_ADDR and serves Realplexor's IN
// line on it (package realplexor) on a goroutine that stop ends; nil when
// the variable is unset.
func startRealplexor(cfg config.Config, core *hub.Hub, log *slog.Logger) (*inLine, error) {
	if cfg.RealplexorAddr == "" {
		return nil, nil
	}
	srv, err := realplexor.New(realplexor.Config{
		Hub: core, Users: cfg.RealplexorUserList(), Guest: cfg.RealplexorGuest,
		MaxBodyBytes: cfg.MaxPublishBytes, MaxChannels: cfg.MaxChannels,
		Rate: cfg.PublishRate, Burst: cfg.PublishBurst, MaxInFlight: cfg.MaxPublishInflight,
		RequestTimeout: cfg.BodyTimeout, Log: log,
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.RealplexorAddr)
	if err != nil {
		return nil, err
	}
	warnBeyondLoopback(log, ln.Addr(), cfg.RealplexorGuest)
	log.Info("realplexor IN line listening", "addr", ln.Addr().String(), "logins", len(cfg.RealplexorUserList()), "guest", cfg.RealplexorGuest)
	return serveInLine(srv, ln, log), nil
}

// serveInLine serves srv on ln on a goroutine that stop ends. Should Serve
// fail before (its listener fails), the failure is logged at error when it
// happens, and stop returns it.
func serveInLine(srv *realplexor.Server, ln net.Listener, log *slog.Logger) *inLine {
	in := &inLine{srv: srv, served: make(chan error, 1)}
	go func() { // ends when Serve does: with stop's Shutdown, or on a failure of ln
		err := srv.Serve(ln)
		if err != nil {
			log.Error("realplexor IN line stopped accepting connections; publishers cannot reach it until a restart",
				"addr", ln.Addr().String(), "err", err)
		}
		in.served <- err
	}()
	return in
}

// warnBeyondLoopback warns when the IN line's address is beyond loopback:
// the protocol sends its logins' passwords in clear text, and with guests
// anyone who reaches it may publish.
func warnBeyondLoopback(log *slog.Logger, addr net.Addr, guest bool) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp.IP.IsLoopback() {
		return
	}
	log.Warn("realplexor IN line on an address beyond loopback: its logins' passwords travel in clear text; keep it on loopback or a private network",
		"addr", addr.String())
	if guest {
		log.Warn("PLEXOR_REALPLEXOR_GUEST=true on an address beyond loopback: anyone who reaches it may publish", "addr", addr.String())
	}
}

// stop closes the listener, lets the requests in progress finish within
// ctx, and returns Serve's result.
func (in *inLine) stop(ctx context.Context) error {
	if in == nil {
		return nil
	}
	err := in.srv.Shutdown(ctx)
	if serr := <-in.served; err == nil {
		err = serr
	}
	return err
}
