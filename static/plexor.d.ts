// TypeScript declarations of plexor.js, the browser client of Plexor.
//
//   <script src="https://rt.example.com/plexor.js">   -> the global Plexor
//   const Plexor = require("plexor");                   -> CommonJS
//   import Plexor, { Plexor as P } from "plexor";       -> ES module (plexor.d.mts)

/** The transports plexor.js has; "auto" picks the best the browser allows. */
type PlexorTransport = "eventsource" | "poll" | "jsonp";

/** The connection's state, as onStatus reports it. */
type PlexorStatus = "idle" | "connecting" | "connected" | "reconnecting" | "closed";

/**
 * This tab's part in the feed its browser shares: "leader" holds the
 * connection, "follower" gets the leader's events, "solo" has a feed of its own
 * (share: false, an explicit cursor, or a browser without Web Locks or
 * BroadcastChannel).
 */
type PlexorRole = "solo" | "leader" | "follower";

/** callback(data, channel, id, type): data is the published JSON value (a string when text was published). */
type PlexorCallback = (this: Plexor, data: unknown, channel: string, id: string, type: string) => void;

/** A failed request; the client retries by itself. */
interface PlexorError {
  /** The HTTP status; 0 for a network error, a timeout or a failed script. */
  status: number;
  message: string;
  /** The service's JSON error body, when there is one. */
  error: { code: string; message: string; [key: string]: unknown } | null;
  /** Seconds the service asked the client to wait (Retry-After), or 0. */
  retryAfter: number;
}

/** The service no longer has every event after the cursor. */
interface PlexorResetInfo {
  reason: string;
  cursor: string | null;
}

/** Counters, for debugging and tests. */
interface PlexorStats {
  connects: number;
  polls: number;
  errors: number;
  resets: number;
  delivered: number;
}

interface PlexorOptions {
  /** Prefixed to every channel name on the wire, stripped in callbacks (""). */
  namespace?: string;
  /** "auto" (default), "eventsource", "poll" or "jsonp". */
  transport?: "auto" | PlexorTransport;
  /** Seconds a long-poll may be held by the service (25; the service caps it). */
  pollTimeout?: number;
  /** Start after this event ID instead of "now" (resume across page loads); such a client does not share. */
  cursor?: string;
  /** Base of the reconnect backoff in ms (1000). */
  reconnectDelay?: number;
  /** Cap of the backoff in ms (30000). */
  maxReconnectDelay?: number;
  /** Send cookies cross-origin (false). */
  withCredentials?: boolean;
  /** A subscriber token for private channels, sent as ?token=; only tabs with the same token share a feed. */
  token?: string;
  /** Share one feed with the other tabs of this browser (true). */
  share?: boolean;
  onReset?: ((info: PlexorResetInfo) => void) | null;
  onError?: ((err: PlexorError) => void) | null;
  onStatus?: ((status: PlexorStatus) => void) | null;
  onRole?: ((role: PlexorRole) => void) | null;
}

interface PlexorConstructor {
  /** options as a string is the namespace (as in Dklab Realplexor). */
  new (url?: string, options?: PlexorOptions | string): Plexor;
  (url?: string, options?: PlexorOptions | string): Plexor;
  readonly prototype: Plexor;
  /** isAfter reports whether event ID a comes after b. */
  isAfter(a: string, b: string): boolean;
  version: string;
  /** Dklab Realplexor's browser API (also the global Dklab_Realplexor). */
  Dklab_Realplexor: DklabRealplexorConstructor;
}

/** A Dklab_Realplexor callback: the published JSON value, the ID without namespace and login prefixes, the event's ID (a cursor setCursor takes). */
type DklabRealplexorCallback = (data: unknown, id: string, cursor: string) => void;

/** Dklab Realplexor's browser API on top of Plexor (docs/migration-realplexor.md). */
interface DklabRealplexor {
  readonly version: string;
  /** logon prefixes IDs with login + "_" (before the namespace) from the next execute(). */
  logon(login: string): this;
  /** setCursor makes an ID deliver only what comes after cursor (an event ID). */
  setCursor(id: string, cursor: string): this;
  /** subscribe adds a callback to an ID; call execute() to apply. */
  subscribe(id: string, callback: DklabRealplexorCallback): this;
  /** unsubscribe removes a callback (null or none: every callback) of an ID, at once. */
  unsubscribe(id: string, callback?: DklabRealplexorCallback | null): this;
  /** execute (re)connects to the subscribed IDs; IDs that stay lose nothing. */
  execute(): this;
}

interface DklabRealplexorConstructor {
  new (fullUrl: string, namespace?: string): DklabRealplexor;
  (fullUrl: string, namespace?: string): DklabRealplexor;
  readonly prototype: DklabRealplexor;
}

declare global {
  /** Set by plexor.js as a script: Dklab Realplexor's browser API. */
  var Dklab_Realplexor: DklabRealplexorConstructor;
}

interface Plexor {
  /** The service's base URL, without trailing slashes. */
  readonly url: string;
  readonly namespace: string;
  /** The transport in use (a follower shows its leader's). */
  transport: PlexorTransport;
  pollTimeout: number;
  reconnectDelay: number;
  maxReconnectDelay: number;
  withCredentials: boolean;
  readonly token: string;
  onReset: ((info: PlexorResetInfo) => void) | null;
  onError: ((err: PlexorError) => void) | null;
  onStatus: ((status: PlexorStatus) => void) | null;
  onRole: ((role: PlexorRole) => void) | null;
  /** Every event up to this ID has been delivered (null: not known yet). */
  readonly cursor: string | null;
  readonly status: PlexorStatus;
  readonly role: PlexorRole;
  readonly stats: PlexorStats;

  /** subscribe adds a callback to a channel; call execute() to apply. */
  subscribe(channel: string, callback: PlexorCallback): this;
  /** unsubscribe removes a callback (or, without one, every callback) of a channel; call execute() to apply. */
  unsubscribe(channel: string, callback?: PlexorCallback): this;
  /** channels lists the subscribed channel names (without namespace), sorted. */
  channels(): string[];
  /** execute applies the subscription set, from the cursor: channels that stay lose nothing. */
  execute(): this;
  /** close ends the connection (and this tab's part in the shared feed); execute() resumes. */
  close(): this;
}

declare const Plexor: PlexorConstructor;

declare namespace Plexor {
  type Transport = PlexorTransport;
  type Status = PlexorStatus;
  type Role = PlexorRole;
  type Callback = PlexorCallback;
  type Error = PlexorError;
  type ResetInfo = PlexorResetInfo;
  type Stats = PlexorStats;
  type Options = PlexorOptions;
  type Realplexor = DklabRealplexor;
  type RealplexorCallback = DklabRealplexorCallback;
}

export = Plexor;
export as namespace Plexor;
