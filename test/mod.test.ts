/**
 * The library API as the README and mod.ts document it: their example, run
 * as written on loopback (server, two clients, one file), so it cannot rot.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as sfx from "../mod.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** The code block of the README's "As a library" section. */
function readmeExample(readme: string): string {
  const section = readme.slice(readme.indexOf("## As a library"));
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error("no example under 'As a library' in README.md");
  return m[1];
}

/** mod.ts's first @example, without the comment's ` * `. */
function moduleExample(source: string): string {
  const m = /@example Run a server[^\n]*\n \* ```ts\n([\s\S]*?) \* ```/.exec(source);
  if (!m) throw new Error("no server example in mod.ts");
  return m[1].split("\n").map((l) => l.replace(/^ \* ?/, "")).join("\n");
}

test("the README's library example, which is mod.ts's, runs as written: one file moves intact, and the process then ends on its own", async () => {
  const example = readmeExample(await readFile(join(ROOT, "README.md"), "utf8"));
  assert.is(moduleExample(await readFile(join(ROOT, "mod.ts"), "utf8")), example, "mod.ts shows the README's example");
  const tmp = await mkdtemp(join(tmpdir(), "sfx-mod-"));
  try {
    const bytes = randomBytes(300_000);
    await writeFile(join(tmp, "report.pdf"), bytes);
    // Only its paths change: mod.ts by absolute path, the demo directory into this test's.
    const script = example.replace('"./mod.ts"', JSON.stringify(join(ROOT, "mod.ts"))).replaceAll("/tmp/sfx-demo", tmp);
    assert.is.not(script, example);
    await writeFile(join(tmp, "example.ts"), script);
    const run = spawnSync(process.execPath, ["example.ts"], { cwd: tmp, encoding: "utf8", timeout: 30_000 });
    // Ends by itself with status 0: nothing left open (a socket or timer would keep it running until the timeout).
    assert.is(run.status, 0, `status ${run.status} (signal ${run.signal}): ${run.stderr}`);
    assert.match(run.stdout, /accepted: true/);
    const written = await readFile(join(tmp, "inbox", "report.pdf"));
    assert.is(createHash("sha256").update(written).digest("hex"), createHash("sha256").update(bytes).digest("hex"));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test("every @example of mod.ts type-checks, strict (listeners of SctpEndpoint and Association events get typed arguments)", async () => {
  const source = await readFile(join(ROOT, "mod.ts"), "utf8");
  const examples = [...source.matchAll(/@example [^\n]*\n \* ```ts\n([\s\S]*?) \* ```/g)].map((m) => m[1].split("\n").map((l) => l.replace(/^ \* ?/, "")).join("\n"));
  assert.ok(examples.length >= 2, `${examples.length} examples`);
  const tmp = await mkdtemp(join(tmpdir(), "sfx-mod-check-"));
  try {
    // And the idioms users write with events: waiting for "drain" with a promise's resolve.
    examples.push([
      'import { type Association } from "./mod.ts";',
      "export async function write(a: Association, data: Uint8Array): Promise<void> {",
      '  if (!a.send(1, data)) await new Promise((r) => a.once("drain", r));',
      "}",
    ].join("\n"));
    const files: string[] = [];
    for (const [i, code] of examples.entries()) {
      files.push(join(tmp, `example${i}.ts`));
      await writeFile(files[i], code.replace('"./mod.ts"', JSON.stringify(join(ROOT, "mod.ts"))));
    }
    // deno check is strict; --config names the npm dependencies for files outside the tree.
    const r = spawnSync(join(ROOT, "node_modules/.bin/deno"), ["check", "--config", join(ROOT, "deno.json"), ...files], {
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    });
    assert.is(r.status, 0, r.stderr);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test("mod.ts's transport example runs as written: it prints the echo and the process ends on its own", async () => {
  const source = await readFile(join(ROOT, "mod.ts"), "utf8");
  const m = /@example The transport on its own[^\n]*\n \* ```ts\n([\s\S]*?) \* ```/.exec(source);
  assert.ok(m, "no transport example in mod.ts");
  const example = m[1].split("\n").map((l) => l.replace(/^ \* ?/, "")).join("\n");
  const tmp = await mkdtemp(join(tmpdir(), "sfx-mod-echo-"));
  try {
    await writeFile(join(tmp, "echo.ts"), example.replace('"./mod.ts"', JSON.stringify(join(ROOT, "mod.ts"))));
    const run = spawnSync(process.execPath, ["echo.ts"], { cwd: tmp, encoding: "utf8", timeout: 30_000 });
    assert.is(run.status, 0, `status ${run.status} (signal ${run.signal}): ${run.stderr}`);
    assert.is(run.stdout, "1 hello\n");
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test("what mod.ts's share client needs is exported with it: a ShareClient can be built from a connection", () => {
  assert.type(sfx.connectionShareLink, "function");
  assert.type(sfx.collectShareFiles, "function");
  assert.is(sfx.formatId("482913"), "482 913");
});

test("mod.ts exports the error codes the CLI documents", () => {
  assert.is(sfx.exitStatusFor(new sfx.SfxError("SFX_UNKNOWN_ID", "x")), 5);
  assert.type(sfx.SctpEndpoint.listen, "function");
  assert.type(sfx.discoverServers, "function");
});

test.run();
