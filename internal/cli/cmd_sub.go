package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/r3labs/sse/v2"
	backoff "gopkg.in/cenkalti/backoff.v1"
)

// maxEventBytes bounds one event the subscriber accepts.
const maxEventBytes = 64 << 20

// cmdSub subscribes to channels and prints every event on stdout until ctx
// ends (SIGINT). It reconnects by itself and resumes after the last event.
func cmdSub(ctx context.Context, args []string, sio Stdio) int {
	fs := newFlagSet("sub", "[flags] channel…",
		"Subscribe to the channels (names, or comma-separated lists) and print every\n"+
			"event, until interrupted. When the stream ends or fails, reconnect with\n"+
			"backoff and resume after the last event received (Last-Event-ID), so nothing\n"+
			"is missed or repeated while the service's history covers the gap; if it\n"+
			"does not, a notice goes to stderr. Connection notices go to stderr.", sio)
	base := fs.String("url", defaultURL(sio.Env), "the service's base URL (PLEXOR_URL when set)")
	lastID := fs.String("last-event-id", "", "resume after this event ID instead of starting with new events")
	token := fs.String("token", "", "subscriber token for private channels, sent as Authorization: Bearer\n(default: PLEXOR_SUBSCRIBE_TOKEN)")
	format := fs.String("format", "raw", "raw: print each event's data (its text as published) and a newline;\n"+
		"envelope: print each event as one JSON line {id, channels, type, data}")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() == 0 {
		return usageError(fs, "name at least one channel")
	}
	if *token == "" {
		*token = sio.Env["PLEXOR_SUBSCRIBE_TOKEN"]
	}
	if *format != "raw" && *format != "envelope" {
		return usageError(fs, "--format must be raw or envelope, got %q", *format)
	}
	query := url.Values{"channels": {strings.Join(fs.Args(), ",")}}
	if *format == "envelope" {
		query.Set("format", "envelope")
	}
	feed, err := endpoint(*base, "/events", query)
	if err != nil {
		return usageError(fs, "%v", err)
	}
	f := &follower{url: feed, token: *token, lastID: *lastID, out: sio.Out, log: sio.Err}
	if err := f.run(ctx); err != nil {
		fmt.Fprintln(sio.Err, "plexor sub:", err)
		return ExitFailure
	}
	return ExitOK
}

// follower keeps one feed open: it connects, prints events, and reconnects
// after the last event it printed, until its context ends.
type follower struct {
	url      string
	token    string // subscriber token, sent in a header (never in the URL, which is logged)
	lastID   string // the ID of the last event printed (sent as Last-Event-ID)
	out, log io.Writer

	// retryHint is the service's last "retry:" hint; reconnects wait at
	// least this long.
	retryHint time.Duration
}

// run follows the feed until ctx ends (then it returns nil) or the service
// refuses the subscription with a 4xx (then it returns that error).
//
// The r3labs client is used for one connection at a time, with its own
// reconnect loop disabled: it returns nil when a stream ends (so its
// default backoff would not reconnect at all) and its default backoff gives
// up after 15 minutes. Reconnecting here keeps control of the cursor and of
// the waits, and never gives up.
func (f *follower) run(ctx context.Context) error {
	wait := backoff.NewExponentialBackOff()
	wait.InitialInterval = 250 * time.Millisecond
	wait.MaxInterval = 30 * time.Second
	wait.MaxElapsedTime = 0 // never stop
	for {
		connected, err := f.once(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var fatal *fatalError
		if errors.As(err, &fatal) {
			return fatal.err
		}
		if connected {
			wait.Reset()
		}
		delay := max(wait.NextBackOff(), f.retryHint)
		reason := "the stream ended"
		if err != nil {
			reason = err.Error()
		}
		fmt.Fprintf(f.log, "plexor sub: %s; reconnecting in %s%s\n", reason, delay.Round(time.Millisecond), f.resumeNote())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
	}
}

// fatalError is a failure that reconnecting cannot cure: the service
// refused the subscription (4xx), or the output cannot be written.
type fatalError struct{ err error }

// Error implements error.
func (e *fatalError) Error() string { return e.err.Error() }

// once runs one connection until its stream ends or fails. It reports
// whether the service accepted it (its first block arrived).
func (f *follower) once(ctx context.Context) (connected bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	client := sse.NewClient(f.url, sse.ClientMaxBufferSize(maxEventBytes))
	client.ReconnectStrategy = &backoff.StopBackOff{}
	if f.token != "" {
		client.Headers["Authorization"] = "Bearer " + f.token
	}
	client.Connection = &http.Client{Transport: completeBlocksTransport{}}
	client.ResponseValidator = func(_ *sse.Client, resp *http.Response) error {
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		defer resp.Body.Close()
		refused := responseError(resp)
		if refused.Status < 500 {
			return &fatalError{refused}
		}
		return refused
	}
	if f.lastID != "" {
		client.LastEventID.Store([]byte(f.lastID))
	}
	var printErr error
	err = client.SubscribeWithContext(ctx, "", func(e *sse.Event) {
		// Runs on this goroutine, inside SubscribeWithContext.
		if !connected {
			connected = true
			fmt.Fprintf(f.log, "plexor sub: subscribed to %s%s\n", f.url, f.resumeNote())
		}
		if ms, perr := strconv.Atoi(string(e.Retry)); perr == nil && ms >= 0 {
			f.retryHint = time.Duration(ms) * time.Millisecond
		}
		if len(e.ID) > 0 {
			f.lastID = string(e.ID) // the client fills in the last ID for blocks without one
		}
		switch {
		case string(e.Event) == "reset":
			fmt.Fprintf(f.log, "plexor sub: reset: the service no longer keeps every event since the cursor (%s); some were missed\n", e.Data)
		case len(e.Event) > 0 || len(e.Data) > 0:
			if _, werr := fmt.Fprintf(f.out, "%s\n", e.Data); werr != nil && printErr == nil {
				printErr = werr
				cancel()
			}
		}
	})
	if printErr != nil {
		return connected, &fatalError{fmt.Errorf("writing the output: %w", printErr)}
	}
	return connected, err
}

// resumeNote says from where the next connection resumes.
func (f *follower) resumeNote() string {
	if f.lastID == "" {
		return ""
	}
	return " (after event " + f.lastID + ")"
}
