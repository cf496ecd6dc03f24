/**
 * Discovery figures (not a test; run it by hand): `node test/discovery/_bench.ts`.
 * 1. findFirstServer() latency over loopback, unicast and multicast (socket open/close included).
 * 2. The responder's handle() throughput: valid queries answered, foreign datagrams dropped.
 */
import { startDiscoveryResponder, findFirstServer, encodeQuery } from "../../src/discovery/index.ts";
// 1. first-answer latency over loopback, unicast and multicast
const r = await startDiscoveryResponder({ name: "bench", bind: { host: "0.0.0.0", port: 0 }, interfaces: ["127.0.0.1"], rateLimit: { ratePerSecond: 1e6, burst: 1e6 } });
const port = r.localAddress().port;
const uni: number[] = [], multi: number[] = [];
for (let i = 0; i < 50; i++) {
  let t = performance.now(); await findFirstServer({ target: { address: "127.0.0.1", port } }); uni.push(performance.now() - t);
  t = performance.now(); await findFirstServer({ port, interfaces: ["127.0.0.1"] }); multi.push(performance.now() - t);
}
const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1].toFixed(2);
console.log(`findFirstServer median: unicast ${med(uni)} ms, multicast on lo ${med(multi)} ms (50 runs each, incl. socket open/close)`);
await r.close();
// 2. handle() throughput with a no-op socket
let sent = 0;
const fake = { send() { sent++; }, onMessage() {}, localAddress: () => ({ address: "0.0.0.0", port: 6969, family: "IPv4" as const }), close: async () => {} };
const h = await startDiscoveryResponder({ name: "bench", socket: fake, group: null, rateLimit: { ratePerSecond: 1e9, burst: 1e9 } });
const q = encodeQuery(new Uint8Array(16));
const N = 200_000;
let t = performance.now();
for (let i = 0; i < N; i++) h.handle(q, { address: "127.0.0.1", port: 1000 });
let ms = performance.now() - t;
console.log(`handle(): ${(N / ms * 1000 / 1000).toFixed(0)}k valid queries/s answered (encode included), ${sent} replies`);
const junk = new Uint8Array(100);
t = performance.now();
for (let i = 0; i < N; i++) h.handle(junk, { address: "127.0.0.1", port: 1000 });
ms = performance.now() - t;
console.log(`handle(): ${(N / ms * 1000 / 1000).toFixed(0)}k foreign datagrams/s dropped`);
await h.close();
