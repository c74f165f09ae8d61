// Drives the Improv Wi-Fi serial SDK (npm improv-wifi-serial-sdk, the client ESP Web Tools
// uses) against a device on a serial line: an inherited file descriptor (a pty master).
//   node --import ./register.mjs client.mjs <the SDK's dist/serial.js> <fd>
// Reads one JSON command a line on stdin and prints one JSON answer a line on stdout:
//   {"op": "initialize", "timeout": ms} -> {"ok": true, "info": {...}, "state": n, "url": ...}
//   {"op": "state"} / {"op": "scan"} / {"op": "provision", "ssid": ..., "password": ...}
//   {"op": "exit"}
// A failed command answers {"ok": false, "error": "..."} with the SDK's error text.
import fs from "node:fs";
import readline from "node:readline";
import { pathToFileURL } from "node:url";

const { ImprovSerial } = await import(pathToFileURL(process.argv[2]).href);
const FD = Number(process.argv[3]);

// The Web Serial SerialPort the SDK reads and writes: readable and writable byte streams.
const port = {
  readable: new ReadableStream({
    start(controller) {
      const rx = fs.createReadStream(null, { fd: FD, autoClose: false, highWaterMark: 256 });
      rx.on("data", (chunk) => controller.enqueue(new Uint8Array(chunk)));
      rx.on("end", () => controller.close());
      rx.on("error", (err) => controller.error(err));
    },
  }),
  writable: new WritableStream({
    write(chunk) {
      fs.writeSync(FD, chunk);
    },
  }),
};

const trace = process.env.IMPROV_TRACE ? (...a) => console.error(...a) : () => {};
const logger = { log: trace, debug: trace, error: trace };
const client = new ImprovSerial(port, logger);

async function run(cmd) {
  switch (cmd.op) {
    case "initialize": {
      const info = await client.initialize(cmd.timeout ?? 3000);
      return { info, state: client.state, url: client.nextUrl ?? null };
    }
    case "state":
      await client.requestCurrentState(cmd.timeout);
      return { state: client.state, url: client.nextUrl ?? null };
    case "scan":
      return { networks: await client.scan(cmd.timeout) };
    case "provision":
      await client.provision(cmd.ssid, cmd.password, cmd.timeout);
      return { state: client.state, url: client.nextUrl ?? null };
    default:
      throw new Error("unknown op " + cmd.op);
  }
}

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  const cmd = JSON.parse(line);
  if (cmd.op === "exit") {
    break;
  }
  let answer;
  try {
    answer = { ok: true, ...(await run(cmd)) };
  } catch (err) {
    answer = { ok: false, error: String(err), state: client.state ?? null };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
process.exit(0);
