/**
 * `sfx client` with no --server, in a terminal (tmux), on a LAN of network
 * namespaces this test builds (two servers and the client, joined by a
 * bridge; nothing in the host's namespace): both servers answer, the
 * client lists them and lets the user pick; `discover` and `connect <n>`
 * switch servers. Skipped loudly without root/iproute2 or tmux.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  deleteAtExit,
  deleteNamespaces,
  ip,
  loudSkip,
  netnsUnavailable,
  requireBinary,
  type Server,
  SFX,
  sfxEnv,
  startServe,
  tempDir,
  uniqueName,
  waitUntilAnswering,
} from "../discovery/_e2e.ts";

const TITLE = "sfx client with no --server lists the servers that answer and connects to the one picked";
const TMUX = ["/usr/bin/tmux", "/bin/tmux", "/usr/local/bin/tmux"].find((p) => existsSync(p));
const IP = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].find((p) => existsSync(p));
const why = TMUX ? netnsUnavailable() : "tmux is not installed (CI installs it)";

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

if (why !== undefined) {
  loudSkip(`${TITLE} (test/e2e/client_discover.test.ts)`, why);
  test.skip(TITLE, () => {});
} else {
  requireBinary();
  const namespaces = new Set<string>();
  deleteAtExit(namespaces);
  const home = tempDir("sfx-client-disc-");
  const SOCKET = join(home.path, "tmux");
  const tmux = (...args: string[]): string => {
    const r = spawnSync(TMUX!, ["-S", SOCKET, ...args], { encoding: "utf8", timeout: 10_000 });
    if (r.status !== 0) throw new Error(`tmux ${args.join(" ")} failed: ${r.stderr}`);
    return r.stdout;
  };
  const screen = () => tmux("capture-pane", "-p", "-J", "-S", "-2000", "-t", "c");
  const waitFor = async (re: RegExp, ms = 15_000, from = 0): Promise<RegExpMatchArray> => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const m = screen().slice(from).match(re);
      if (m) return m;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`The client's screen did not show ${re} within ${ms} ms. Screen:\n${screen()}`);
  };
  const type = (text: string) => {
    tmux("send-keys", "-t", "c", "-l", text);
    tmux("send-keys", "-t", "c", "Enter");
  };
  const run = (command: string, re: RegExp) => {
    const from = screen().trimEnd().length;
    type(command);
    return waitFor(re, 15_000, from);
  };

  // A random /24 in 10.0.0.0/8 per run, so concurrent runs never look alike.
  const net = `10.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;

  /** alpha ns, beta ns, client ns —veth— one bridge ns. */
  const buildLan = (): Record<"alpha" | "beta" | "client", string> => {
    const bridge = uniqueName("br");
    const lan = { alpha: uniqueName("a"), beta: uniqueName("b"), client: uniqueName("c") };
    for (const ns of [bridge, ...Object.values(lan)]) {
      ip("netns", "add", ns);
      namespaces.add(ns);
      ip("-n", ns, "link", "set", "lo", "up");
    }
    ip("-n", bridge, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0");
    ip("-n", bridge, "link", "set", "br0", "up");
    let n = 0;
    for (const ns of Object.values(lan)) {
      const port = `p${++n}`;
      ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", bridge);
      ip("-n", bridge, "link", "set", port, "master", "br0");
      ip("-n", bridge, "link", "set", port, "up");
      ip("-n", ns, "addr", "add", `${net}.${n}/24`, "dev", "eth0");
      ip("-n", ns, "link", "set", "eth0", "up");
      ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0");
    }
    return lan;
  };

  test(TITLE, async () => {
    const env = sfxEnv(home.path);
    const lan = buildLan();
    const servers: Server[] = [];
    try {
      const names = [`alpha-${process.pid}`, `beta-${process.pid}`];
      servers.push(startServe(["--name", names[0], "--log-dir", join(home.path, "a"), "--storage", join(home.path, "sa")], { env, ns: lan.alpha }));
      servers.push(startServe(["--name", names[1], "--log-dir", join(home.path, "b"), "--storage", join(home.path, "sb")], { env, ns: lan.beta }));
      await waitUntilAnswering(servers[0], `${net}.1`, { env, ns: lan.client });
      await waitUntilAnswering(servers[1], `${net}.2`, { env, ns: lan.client });

      const vars = Object.entries(env).map(([k, v]) => `${k}=${sh(String(v))}`).join(" ");
      const cmd = `cd ${sh(home.path)} && ${sh(IP!)} netns exec ${sh(lan.client)} env -i ${vars} TERM=xterm ${sh(SFX)} client; echo "[sfx exited $?]"; sleep 600`;
      tmux("new-session", "-d", "-s", "c", "-x", "200", "-y", "50", cmd);

      const table = await waitFor(/2 servers answered:\n\s+NAME\s+ADDRESS\s+VERSION\n\s+1\s+(\S+)\s+(\S+)\s+\S+\n\s+2\s+(\S+)\s+(\S+)\s+\S+\n\s*Connect to which\? \[1-2\]/);
      assert.equal([table[1], table[2], table[3], table[4]], [names[0], `${net}.1:6969`, names[1], `${net}.2:6969`]);
      type("2");
      await waitFor(new RegExp(`Connected to ${names[1]} \\(sfx [\\d.]+\\) at ${net.replace(/\./g, "\\.")}\\.2:6969\\.\\n\\n\\s+Your ID:\\s+\\d{3} \\d{3}`));

      await run("discover", /1\s+alpha-\d+\s+\S+:6969\s+\S+\n\s+2\s+beta-\d+\s+\S+:6969\s+\S+\nType 'connect <n>' to connect to one\./);
      const m = await run("connect 1", new RegExp(`Disconnected from the previous server \\(the ID (\\d{3} \\d{3}) is released\\)\\.[\\s\\S]*Connected to ${names[0]} [\\s\\S]*Your new ID:\\s+(\\d{3} \\d{3})\\s+\\(it was (\\d{3} \\d{3}); give senders the new code\\)`));
      assert.is(m[3], m[1]);

      // The server goes away: reported in one line, the session stays.
      assert.is(await servers[0].stop(), 0);
      await waitFor(/Connection lost: .*Type 'connect' to reconnect/, 30_000);
      type("quit");
      await waitFor(/Bye\.\n\[sfx exited 0\]/);
    } finally {
      try {
        tmux("kill-server");
      } catch {
        // already gone
      }
      for (const s of servers) await s.stop();
      deleteNamespaces(namespaces);
      namespaces.clear();
    }
  });

  test.after(() => {
    deleteNamespaces(namespaces);
    home.remove();
  });
}

test.run();
