// eventsource_client.mjs drives the real npm "eventsource" client against a
// Plexor feed for TestNpmEventSource (events/npm_eventsource_test.go).
//
// Usage: node eventsource_client.mjs <package> <feed-url> <last-event-id> <messages>
//
// <package> is the install alias of one eventsource major version
// ("eventsource3", "eventsource4"; see package.json). The first connection
// carries "Last-Event-ID: <last-event-id>" through the client's documented
// custom fetch hook; reconnects keep the client's own Last-Event-ID. The
// script prints one JSON line per "reset" or "message" event,
// {"type", "lastEventId", "data"}, with lastEventId as the client reports it
// on the event object, and ends after one reset and <messages> messages. On
// a client error it prints {"type":"error", ...} and exits 1. The Go test
// bounds the run with its own deadline.
const [pkg, url, cursor, messagesArg] = process.argv.slice(2)
const wantMessages = Number(messagesArg)
if (!pkg || !url || !cursor || !Number.isInteger(wantMessages)) {
  console.error('usage: node eventsource_client.mjs <package> <feed-url> <last-event-id> <messages>')
  process.exit(2)
}

const {EventSource} = await import(pkg)

const es = new EventSource(url, {
  fetch: (input, init) => {
    const headers = new Headers(init?.headers)
    if (!headers.has('Last-Event-ID')) {
      headers.set('Last-Event-ID', cursor)
    }
    return fetch(input, {...init, headers})
  },
})

let resets = 0
let messages = 0

function print(event) {
  process.stdout.write(
    JSON.stringify({type: event.type, lastEventId: event.lastEventId, data: event.data}) + '\n',
  )
}

function finishWhenDone() {
  if (resets >= 1 && messages >= wantMessages) {
    es.close()
  }
}

es.addEventListener('reset', (event) => {
  resets++
  print(event)
  finishWhenDone()
})

es.addEventListener('message', (event) => {
  messages++
  print(event)
  finishWhenDone()
})

es.addEventListener('error', (event) => {
  process.stdout.write(
    JSON.stringify({type: 'error', lastEventId: '', data: String(event.message ?? event.code ?? 'unknown')}) + '\n',
  )
  es.close()
  process.exitCode = 1
})
