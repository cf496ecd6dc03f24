/**
 * Receive rate of one datagram adapter, for the transport benchmark. Run
 * under Deno (`deno run -A --unstable-net bench/deno_dgram_rate.ts <node|deno> [seconds]`)
 * or Node (`node bench/deno_dgram_rate.ts node`). Prints `{"ready":true,"port":N}`,
 * then — counting from the first datagram for `seconds` — `{"impl","datagrams","perSecond"}`.
 */
import { openDatagramSocket } from "../src/transport/socket.ts";

const impl = (globalThis as { Deno?: { args: string[] } }).Deno?.args[0] ?? process.argv[2] ?? "node";
const seconds = Number((globalThis as { Deno?: { args: string[] } }).Deno?.args[1] ?? process.argv[3] ?? 2);
const socket = await openDatagramSocket({ host: "127.0.0.1", impl: impl === "deno" ? "deno" : "node" });
let count = 0;
let started = 0;
socket.onMessage(() => {
  if (count++ === 0) {
    started = performance.now();
    setTimeout(async () => {
      const secs = (performance.now() - started) / 1000;
      console.log(JSON.stringify({ impl, datagrams: count, perSecond: Math.round(count / secs) }));
      await socket.close();
    }, seconds * 1000);
  }
});
console.log(JSON.stringify({ ready: true, port: socket.localAddress().port }));
