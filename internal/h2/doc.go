// Package h2 is Plexor's HTTP/2 server: it serves the connections that
// net/http hands over after ALPN negotiated "h2" (TLS) or a client opened
// with the HTTP/2 preface (h2c, prior knowledge), through the same
// http.Handler as HTTP/1.x.
//
// It exists for the feeds. net/http's HTTP/2 server keeps a goroutine and a
// 4 KiB buffer for every open stream and hands each write to the
// connection's goroutine; an idle feed there costs about five times what a
// taken-over HTTP/1.1 feed does. Here a handler can take its stream over
// (ResponseWriter.TakeOver) once its headers and replay are written, as an
// HTTP/1.1 feed takes its connection over: the handler returns, and the
// stream is written by whoever has bytes for it (a publisher's goroutine,
// see events/hub), without a goroutine or a buffer of its own.
//
// One goroutine per connection reads frames (conn.serve, on net/http's
// connection goroutine); one goroutine per request runs its handler until
// it returns or takes its stream over. Writes of all streams meet in the
// connection's writer (writer.go): a write that the socket takes at once
// goes straight out, the rest waits in the connection's buffer for a
// flusher goroutine that lives only while that buffer holds bytes. Flow
// control is per stream and per connection (RFC 9113 section 5.2): a stream
// whose window is empty waits alone; a connection whose socket stops taking
// bytes for the write timeout is closed with all its streams.
package h2
