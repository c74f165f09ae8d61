// Module hooks that let Node load the Improv SDK as the browser bundlers do: its dist/ files are
// ES modules without "type": "module" in package.json, and one import leaves out the ".js".
// Registered by register.mjs (node --import ./register.mjs).

const SDK = "/improv-wifi-serial-sdk/dist/";

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    const relative = specifier.startsWith("./") || specifier.startsWith("../");
    if (err.code !== "ERR_MODULE_NOT_FOUND" || !relative || specifier.endsWith(".js")) {
      throw err;
    }
    return next(specifier + ".js", context);
  }
}

export async function load(url, context, next) {
  if (url.includes(SDK)) {
    return next(url, { ...context, format: "module" });
  }
  return next(url, context);
}
