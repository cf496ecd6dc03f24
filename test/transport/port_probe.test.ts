/**
 * portRefuses(): a closed UDP port on this host answers "port unreachable"
 * (ECONNREFUSED) at once; an open one says nothing, and the probe gives up
 * after its time. Real sockets on 127.0.0.1 and ::1, ports from the kernel.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { portRefuses } from "../../src/transport/port_probe.ts";
import { openUdpSocket } from "../../src/transport/udp.ts";

/** A port nothing listens on: one the kernel gave a socket now closed. */
async function closedPort(host: string): Promise<number> {
  const s = await openUdpSocket({ host, port: 0 });
  const port = s.localAddress().port;
  await s.close();
  return port;
}

test("a closed port refuses at once, on IPv4 and IPv6", async () => {
  for (const address of ["127.0.0.1", "::1"]) {
    const port = await closedPort(address);
    const t0 = performance.now();
    assert.is(await portRefuses({ address, port }, 5000), true, address);
    assert.ok(performance.now() - t0 < 4000, `answered within its time (${address})`);
  }
});

test("an open port does not refuse: false once the time is up, and what it got was no datagram a peer would take", async () => {
  const s = await openUdpSocket({ host: "127.0.0.1", port: 0 });
  const got: number[] = [];
  s.onMessage((d) => got.push(d.length));
  try {
    assert.is(await portRefuses({ address: "127.0.0.1", port: s.localAddress().port }, 200), false);
    assert.equal(got, [0], "one empty datagram");
  } finally {
    await s.close();
  }
});

test.run();
