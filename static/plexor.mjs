// ES module entry of the Plexor browser client:
//
//   import Plexor from "https://rt.example.com/plexor.mjs";
//
// plexor.js is a classic script that also runs as a module; importing it
// defines the global Plexor (as a <script> tag would), which is exported here.
import "./plexor.js";

const Plexor = (typeof globalThis !== "undefined" ? globalThis : self).Plexor;

export { Plexor };
export default Plexor;
