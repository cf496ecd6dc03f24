import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SHUTDOWN_TIMEOUT_MS } from "../../src/server/defaults.ts";

const UNIT_PATH = new URL("../../build/sfx.service", import.meta.url).pathname;
const SFX = new URL("../../build/sfx", import.meta.url).pathname;
const unit = readFileSync(UNIT_PATH, "utf8");

/** The unit's `[Service]` settings: key → every value given (in order). */
function section(name: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current = "";
  for (const raw of unit.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const head = /^\[(\w+)\]$/.exec(line);
    if (head) {
      current = head[1];
      continue;
    }
    if (current !== name) continue;
    const eq = line.indexOf("=");
    const key = line.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

test("sfx.service runs `sfx serve` in the foreground (Type=simple, no --daemon) and restarts it on failure", () => {
  const s = section("Service");
  assert.equal(s.get("Type"), ["simple"]);
  const exec = s.get("ExecStart")!;
  assert.is(exec.length, 1);
  assert.match(exec[0], /^\/usr\/local\/bin\/sfx serve\b/);
  assert.not.match(exec[0], /--daemon|--stop/);
  assert.equal(s.get("Restart"), ["on-failure"]);
  assert.equal(section("Install").get("WantedBy"), ["multi-user.target"]);
});

test("sfx.service lets the graceful shutdown finish before systemd kills it", () => {
  const s = section("Service");
  assert.equal(s.get("KillSignal") ?? ["SIGTERM"], ["SIGTERM"]);
  const stopSecs = Number(s.get("TimeoutStopSec")?.[0]);
  assert.ok(stopSecs > SHUTDOWN_TIMEOUT_MS / 1000, `TimeoutStopSec=${stopSecs} must exceed the server's own ${SHUTDOWN_TIMEOUT_MS / 1000} s`);
});

test("sfx.service hardening still allows /var/log and /var/lib/sfx writes, the JIT and interface listing", () => {
  const s = section("Service");
  assert.equal(s.get("ProtectSystem"), ["strict"]);
  assert.ok((s.get("ReadWritePaths") ?? []).join(" ").split(/\s+/).includes("/var/log"), "the log files live in /var/log");
  assert.equal(s.get("StateDirectory"), ["sfx"], "shares live in /var/lib/sfx");
  assert.not.ok(s.has("MemoryDenyWriteExecute"), "V8 needs W+X memory");
  assert.not.ok(s.has("DynamicUser"), "a dynamic user could not write /var/log/stream_server.log");
  assert.not.equal(s.get("ProcSubset"), ["pid"], "the server reads its socket's drop count in /proc/net/udp");
  const families = (s.get("RestrictAddressFamilies") ?? [""])[0].split(/\s+/);
  for (const f of ["AF_INET", "AF_INET6", "AF_NETLINK"]) assert.ok(families.includes(f), `${f} allowed`);
});

test("systemd-analyze verify accepts sfx.service", () => {
  const analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].find((p) => existsSync(p));
  if (!analyze || !existsSync(SFX)) {
    console.warn(`!!! SKIPPED: needs systemd-analyze (${analyze ?? "missing"}) and build/sfx`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "sfx-unit-"));
  try {
    const copy = join(dir, "sfx.service");
    writeFileSync(copy, unit.replaceAll("/usr/local/bin/sfx", SFX)); // verify checks that ExecStart exists
    const r = spawnSync(analyze, ["verify", copy], { encoding: "utf8", timeout: 20_000 });
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stderr.trim(), "", r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
