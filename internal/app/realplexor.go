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
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && cfg.RealplexorGuest && !tcp.IP.IsLoopback() {
		log.Warn("PLEXOR_REALPLEXOR_GUEST=true on an address beyond loopback: anyone who reaches it may publish", "addr", ln.Addr().String())
	}
	log.Info("realplexor IN line listening", "addr", ln.Addr().String(), "logins", len(cfg.RealplexorUserList()), "guest", cfg.RealplexorGuest)
	in := &inLine{srv: srv, served: make(chan error, 1)}
	go func() { in.served <- srv.Serve(ln) }() // ends with stop's Shutdown
	return in, nil
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
