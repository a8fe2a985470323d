// TypeScript declarations of plexor.mjs, the ES module entry of plexor.js:
//
//   import Plexor from "plexor";            // or "https://rt.example.com/plexor.mjs"
//   import { Plexor } from "plexor";
//   import type { Options, Role } from "plexor";
import Plexor = require("./plexor.js");

export type Transport = Plexor.Transport;
export type Status = Plexor.Status;
export type Role = Plexor.Role;
export type Callback = Plexor.Callback;
export type PlexorError = Plexor.Error;
export type ResetInfo = Plexor.ResetInfo;
export type Stats = Plexor.Stats;
export type Options = Plexor.Options;
export type Realplexor = Plexor.Realplexor;
export type RealplexorCallback = Plexor.RealplexorCallback;

export { Plexor };
export default Plexor;
