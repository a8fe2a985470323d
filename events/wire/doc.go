// Package wire is Plexor's wire format: Server-Sent Events frames (events,
// retry hints, cursors, comments, the reset control event), the two event
// formats (raw and envelope), event IDs and cursors — encoded by the server
// and parsed by Parser, which the Go clients read feeds with: plexor sub
// (internal/cli) and the load tool (load), and some tests (events/push,
// events' overflow and fuzz tests; the end-to-end tests use parsers of
// their own, as an independent check).
//
// It knows nothing of HTTP, connections or channels' subscribers: it turns
// stored events into bytes and bytes back into events.
//
// The SSE format (WHATWG HTML, "Server-sent events"): an event is a block of
// "field: value" lines ended by a blank line. A value can never hold CR or
// LF, so data is split into one "data:" line per line of text and the client
// joins them with LF. IDs are decimal digits and types are validated names,
// so nothing a publisher sends can start another field or event.
package wire
