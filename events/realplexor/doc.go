// Package realplexor speaks Dklab Realplexor's publisher protocol (its "IN
// line") on a listener of its own, so sites whose code publishes with
// Realplexor's PHP, Python or other client libraries can switch to Plexor by
// changing a host name.
//
// A client connects, writes one request and shuts down its writing side:
//
//	POST / HTTP/1.1
//	Content-Length: N
//	X-Realplexor: identifier=[LOGIN:PASSWORD@]LIST
//
//	BODY
//
// LIST is comma-separated: ID (a channel), CURSOR:ID (a channel with a
// publisher-given cursor, accepted and otherwise ignored: Plexor numbers
// events itself) and *ID (a limiter: the message reaches only connections
// that also listen to one of the limiter IDs, history.Message.OnlyFor). The
// body is a JSON text, published as that JSON value to every ID of the list;
// or a command: "online [PREFIX ...]" (the online IDs, "ID COUNT" a line)
// or "watch POS [PREFIX ...]" (the presence changes after POS, "online
// POS:ID" or "offline POS:ID" a line). The answer is "HTTP/1.0 200 OK" with
// Content-Type text/plain and an exact Content-Length, then the server
// closes the connection; a refusal has a 4xx status and a one-line reason.
//
// Files: server.go (the listener, connections, answers), request.go (the
// request and its identifier), users.go (logins), serve.go (publishes and
// commands onto the hub).
package realplexor
