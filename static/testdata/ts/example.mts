// Type-checked by TestTypeScriptDeclarations (static/typescript_test.go)
// against the package as npm installs it: every public name of plexor.js as
// an ES module user sees it. The @ts-expect-error lines must stay errors:
// they prove the declarations are not just `any`.
import Plexor, { Plexor as Named } from "plexor";
import type { Options, Role, Status, Transport, ResetInfo, PlexorError, Stats, Callback, Realplexor, RealplexorCallback } from "plexor";

const options: Options = {
  namespace: "demo_",
  transport: "auto",
  pollTimeout: 25,
  reconnectDelay: 1000,
  maxReconnectDelay: 30000,
  withCredentials: false,
  token: "eyJhbGciOi...",
  share: true,
  onReset: (info: ResetInfo) => console.log(info.reason, info.cursor),
  onError: (err: PlexorError) => console.log(err.status, err.message, err.retryAfter, err.error?.code),
  onStatus: (status: Status) => console.log(status),
  onRole: (role: Role) => console.log(role === "leader" ? "this tab holds the feed" : role),
};

const plexor = new Plexor("https://rt.example.com/", options);
const same: Named = Named("", "demo_"); // callable without new; a string is the namespace
const onBeta: Callback = function (data, channel, id, type) {
  const self: Plexor = this;
  console.log(self.cursor, data, channel.toUpperCase(), id.length, type);
};

plexor
  .subscribe("Alpha", (data: unknown, channel: string, id: string, type: string) => console.log(data, channel, id, type))
  .subscribe("Beta", onBeta)
  .execute();
plexor.unsubscribe("Beta", onBeta).unsubscribe("Alpha").execute();

const names: string[] = plexor.channels();
const cursor: string | null = plexor.cursor;
const transport: Transport = plexor.transport;
const role: Role = plexor.role;
const stats: Stats = plexor.stats;
const after: boolean = Plexor.isAfter("10", "9");
const version: string = Plexor.version;
console.log(names, cursor, transport, role, stats.delivered + stats.connects, after, version, same.status);
plexor.close();

// @ts-expect-error: not a transport
new Plexor("", { transport: "websocket" });
// @ts-expect-error: a callback is required
plexor.subscribe("Alpha");
// @ts-expect-error: the role is read-only
plexor.role = "leader";
// @ts-expect-error: share is a boolean
new Plexor("", { share: "no" });

// Dklab Realplexor's API, for pages written against it.
const onAlpha: RealplexorCallback = (data, id, cursor) => console.log(data, id.length, cursor.length);
const rpl: Realplexor = new Plexor.Dklab_Realplexor("https://rt.example.com/", "demo_");
rpl.logon("user").setCursor("Alpha", "123").subscribe("Alpha", onAlpha).execute();
rpl.unsubscribe("Alpha", null).unsubscribe("Beta").execute();
const global: Realplexor = Dklab_Realplexor("https://rt.example.com/");
console.log(rpl.version, global.version);
// @ts-expect-error: a Realplexor callback gets (data, id, cursor), no type
rpl.subscribe("Alpha", (data: unknown, id: string, cursor: string, type: string) => console.log(data, id, cursor, type));
