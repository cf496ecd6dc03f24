/** What sfx listens for before the rest of it has loaded (src/cli/early_signals.ts, imported first by cli.ts). */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type Ended, runToEnd } from "../_spawn.ts";
import { join } from "node:path";

const ROOT = new URL("../..", import.meta.url).pathname;
const DENO = process.env.SFX_TEST_RUNTIME === "deno";

function run(args: string[], pre: string[] = []): Promise<Ended> {
  const [cmd, runtimeArgs] = DENO ? [join(ROOT, "node_modules/.bin/deno"), ["run", "-A"]] : [process.execPath, pre];
  return runToEnd(cmd, [...runtimeArgs, ...args], { cwd: ROOT });
}

const FIXTURE = "test/cli/_early_signals_fixture.ts";

test("a SIGHUP to a starting sfx serve is heard from its first module on (it reopens the log, and must not end the server); to another command it still ends it", async () => {
  for (const args of [["serve", "--port", "0"], ["--verbose", "serve"]]) {
    const r = await run([FIXTURE, ...args]);
    assert.equal([r.code, r.signal, r.stdout], [0, null, "alive\n"], `${args.join(" ")}: ${r.stderr}`);
  }
  for (const args of [["send", "--to", "123456", "serve"], ["receive"]]) {
    const r = await run([FIXTURE, ...args]);
    assert.equal([r.signal, r.stdout], ["SIGHUP", ""], `${args.join(" ")}: ${r.stderr}`);
  }
});

test("cli.ts loads the rest of sfx only after its first module has run (a static import is loaded before any module runs)", async () => {
  if (DENO) return; // Node's module hooks say when each module loads
  // Preloaded: reports, as src/cli/main.ts loads, whether the SIGHUP listener was already there.
  const hook = `
    import { registerHooks } from "node:module";
    registerHooks({ load(url, context, next) {
      if (url.endsWith("/src/cli/main.ts")) process.stderr.write("main.ts loads with " + process.listenerCount("SIGHUP") + " SIGHUP listener(s)\\n");
      return next(url, context);
    } });`;
  const r = await run(["cli.ts", "serve", "--bogus"], ["--import", `data:text/javascript,${encodeURIComponent(hook)}`]);
  assert.match(r.stderr, /^main\.ts loads with 1 SIGHUP listener\(s\)\n/, r.stderr);
  assert.is(r.code, 2, "the usage error, once loaded");
});

test.run();
