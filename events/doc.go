// Package events is Plexor's HTTP face: the handlers of the wire contract
// (docs/api.md). Each is thin — parse the request, authorize it, call the
// delivery core (events/hub), answer — and errors are answered as JSON by
// ErrorHandler.
//
// Files: api.go (API, its Config, NewAPI), feed.go (GET /events: the
// replay, then the live stream), takeover.go (handing a feed to its
// transport), poll.go and jsonp.go (GET /poll, long-poll and JSONP),
// publish*.go (POST /publish and /demo/publish: body parsing, answers),
// hook*.go (POST /hooks/{name}), admin.go (channels, channel info, the
// watch feed, stats), channels.go and cursor.go and query.go (request
// values), connlimit.go (the connection-limit middleware), errors.go (the
// JSON errors).
//
// The packages below it: events/hub (the delivery core), events/wire (the
// SSE format), events/transport (how a feed's bytes reach the client),
// events/idempotency and events/cluster.
package events
