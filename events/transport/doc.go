// Package transport holds the ways a feed's bytes reach its client, each a
// hub.Sink: ConnSink writes to an HTTP/1.x connection taken over from
// net/http (chunk framing, one write(2) straight to the descriptor while
// the socket takes it, deadlines only for the rest, a hang-up watch that
// needs no goroutine per connection on Linux), and Response writes through
// a handler's http.ResponseWriter (the replay, and whole feeds that cannot
// be taken over, such as HTTP/2 streams).
package transport
