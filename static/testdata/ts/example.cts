// Type-checked by TestTypeScriptDeclarations: the CommonJS form.
import Plexor = require("plexor");

const plexor = new Plexor("/", { namespace: "demo_", share: false });
plexor.subscribe("Alpha", (data, channel, id) => console.log(data, channel, id)).execute();
const options: Plexor.Options = { transport: "jsonp" };
const status: Plexor.Status = plexor.status;
console.log(options, status, Plexor.isAfter("2", "1"));
