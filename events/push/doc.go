// Package push serves the nginx push module's protocol (nginx_http_push_module,
// Nchan's "longpoll"), beside Plexor's own handlers (package events) and over
// the same delivery core:
//
//   - GET /push/sub?id=CHANNEL (subscribe.go): a long-poll that answers the
//     next message after the position its client sends back in
//     If-Modified-Since and If-None-Match (position.go);
//   - POST /push/pub?id=CHANNEL (publish.go): publish the body, as it is, as
//     one message of the channel;
//   - GET and DELETE /push/pub?id=CHANNEL (publish.go): the channel's info
//     (messages, subscribers, last request, last message ID), and its deletion;
//   - requests.go: when a push subscriber last asked for each channel.
//
// It answers errors as events does (events.Error) and authorizes with the
// same configuration (events.Config). docs/migration-push-module.md is the
// user's guide.
package push
