/** The status file (src/server/status_file.ts) and how `sfx serve --status` says it. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readStatusFile, startStatusFile, STATUS_STALE_MS, statusFileFor } from "../../src/server/status_file.ts";
import type { ServerStatus } from "../../src/server/server.ts";
import { describeStatus, formatUptime } from "../../src/cli/serve.ts";

const dir = mkdtempSync(join(tmpdir(), "sfx-status-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function figures(over: Partial<ServerStatus> = {}): ServerStatus {
  return {
    version: "9.9.9",
    pid: 4242,
    startedAt: "2026-12-07T10:00:00.000Z",
    host: "0.0.0.0",
    port: 6969,
    name: "office",
    clients: 3,
    exchanges: { active: 1, done: 37, rejected: 2, cancelled: 1, failed: 0, relayedBytes: 13_207_024_435 },
    shares: { count: 12, usedBytes: 1_288_490_189, quotaBytes: 64 * 1024 ** 3, uploads: 0, requests: 1 },
    ...over,
  };
}

test("the status file is beside the pid file, named after it", () => {
  assert.is(statusFileFor("/run/sfx.pid"), "/run/sfx.status.json");
  assert.is(statusFileFor("/var/run/sfx/office.pid"), "/var/run/sfx/office.status.json");
  assert.is(statusFileFor("/tmp/pidfile"), "/tmp/pidfile.status.json");
});

test("figures are written at once, whole (a temporary file renamed); stopping() writes a last record that says so, remove() removes the file and leaves no temporary", async () => {
  const path = join(dir, "a.status.json");
  let clients = 3;
  const writer = startStatusFile(path, () => figures({ pid: process.pid, clients }));
  try {
    for (const until = Date.now() + 5000; !existsSync(path) && Date.now() < until;) await new Promise((r) => setTimeout(r, 10));
    const read = readStatusFile(path, process.pid);
    assert.ok("record" in read && read.record.state === "running", JSON.stringify(read));
    if ("record" in read && read.record.state === "running") {
      assert.is(read.record.clients, 3);
      assert.is(read.record.state, "running");
      assert.ok(Math.abs(Date.parse(read.record.updatedAt) - Date.now()) < 5000);
    }
    clients = 1;
    await writer.stopping();
    const last = readStatusFile(path, process.pid);
    assert.ok("record" in last && last.record.state === "stopping" && last.record.clients === 1, JSON.stringify(last));
  } finally {
    await writer.remove();
  }
  assert.not.ok(existsSync(path), "removed once stopped");
  assert.equal(readdirSync(dir).filter((n) => n.startsWith(".a.status")), [], "no temporary file left");
});

test("a write that fails is told once, not every time; the server goes on", async () => {
  const path = join(dir, "no-such-dir", "b.status.json");
  const errors: unknown[] = [];
  const writer = startStatusFile(path, () => figures(), (err) => errors.push(err));
  for (const until = Date.now() + 5000; errors.length === 0 && Date.now() < until;) await new Promise((r) => setTimeout(r, 10));
  await writer.remove();
  assert.is(errors.length, 1);
  assert.is((errors[0] as NodeJS.ErrnoException).code, "ENOENT");
  // Figures that cannot be taken (a part of the server gone wrong) are told too, and throw nowhere.
  const thrown: unknown[] = [];
  const broken = startStatusFile(join(dir, "d.status.json"), () => {
    throw new Error("no figures");
  }, (err) => thrown.push(err));
  await broken.stopping();
  await broken.remove();
  assert.equal(thrown.map((e) => (e as Error).message), ["no figures"]);
});

test("no figures are shown that are missing, another process's, stale or unreadable: each says why", () => {
  const path = join(dir, "c.status.json");
  const now = Date.parse("2026-12-07T12:00:00.000Z");
  let r = readStatusFile(path, 4242, now);
  assert.ok("why" in r && /is missing/.test(r.why), JSON.stringify(r));
  writeFileSync(path, JSON.stringify({ ...figures({ pid: 1 }), updatedAt: new Date(now).toISOString(), state: "running" as const }));
  r = readStatusFile(path, 4242, now);
  assert.ok("why" in r && /another process's \(pid 1\), not pid 4242's/.test(r.why), JSON.stringify(r));
  writeFileSync(path, JSON.stringify({ ...figures(), updatedAt: new Date(now - STATUS_STALE_MS - 1000).toISOString(), state: "running" as const }));
  r = readStatusFile(path, 4242, now);
  assert.ok("why" in r && /are 16 s old: the server has stopped writing them/.test(r.why), JSON.stringify(r));
  writeFileSync(path, "{ half a rec");
  r = readStatusFile(path, 4242, now);
  assert.ok("why" in r && /cannot be read/.test(r.why), JSON.stringify(r));
  writeFileSync(path, JSON.stringify({ ...figures(), updatedAt: new Date(now - 2000).toISOString(), state: "running" as const }));
  r = readStatusFile(path, 4242, now);
  assert.ok("record" in r && r.record.state !== "starting" && r.record.shares?.count === 12, JSON.stringify(r));
});

test("the figures read as an admin reads them", () => {
  const now = Date.parse("2026-12-07T13:12:30.000Z");
  const text = describeStatus({ ...figures(), updatedAt: new Date(now - 3000).toISOString(), state: "running" as const }, now);
  assert.is(
    text,
    [
      "  sfx 9.9.9 on 0.0.0.0:6969 as office, up 3 h 12 min",
      "  clients:   3 connected",
      "  exchanges: 1 under way; since the start 37 done, 2 refused, 1 cancelled, 0 failed; 12.3 GiB relayed",
      "  shares:    12, 1.2 GiB of the 64.0 GiB quota; 1 upload(s) or download(s) under way",
      "  (figures from 3 s ago)",
      "",
    ].join("\n"),
  );
  assert.is(describeStatus({ ...figures({ host: "::" }), updatedAt: new Date(now).toISOString(), state: "running" as const }, now).split("\n")[0], "  sfx 9.9.9 on [::]:6969 as office, up 3 h 12 min");
  assert.is(
    describeStatus({ ...figures({ shares: null }), updatedAt: new Date(now).toISOString(), state: "running" as const }, now).split("\n")[3],
    "  shares:    none served: the share store could not be opened (its disk was full when the server started)",
  );
  assert.is(
    describeStatus({ ...figures(), updatedAt: new Date(now).toISOString(), state: "stopping" }, now).split("\n")[0],
    "  stopping (a graceful shutdown takes up to 10 s); the figures are from when it began",
  );
  assert.equal([0, 45_000, 12 * 60_000, 3 * 3600_000 + 12 * 60_000, 52 * 3600_000].map(formatUptime), ["0 s", "45 s", "12 min", "3 h 12 min", "2 d 4 h"]);
});

test("while the server starts (no figures yet) the file says so, and update() writes the figures at once when it runs; --status shows it starting", async () => {
  const path = join(dir, "starting.status.json");
  let running: ServerStatus | undefined;
  const writer = startStatusFile(path, () => running, undefined, "9.9.9");
  try {
    const read = async () => {
      for (let i = 0; i < 500; i++) {
        const r = existsSync(path) ? readStatusFile(path, process.pid) : undefined;
        if (r && "record" in r && r.record.state === (running ? "running" : "starting")) return r.record;
        await new Promise((res) => setTimeout(res, 10));
      }
      assert.unreachable(`no ${running ? "running" : "starting"} record in ${path}`);
    };
    const starting = await read();
    assert.equal([starting!.state, (starting as { version: string }).version, starting!.pid], ["starting", "9.9.9", process.pid]);
    const since = Date.parse((starting as { since: string }).since);
    assert.match(describeStatus(starting!, since + 75_000), /^ {2}starting, for 1 min \(sfx 9\.9\.9\): opening its share store and taking its port; its figures come once it runs\n$/);
    running = figures({ pid: process.pid, clients: 5 });
    writer.update();
    const now = await read();
    assert.is(now!.state === "running" && now!.clients, 5);
  } finally {
    await writer.remove();
  }
  assert.not.ok(existsSync(path));
});

test.run();
