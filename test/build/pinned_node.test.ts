/** `npm run build` refuses, in words, to build with any Node but the pinned one it copies into the binary. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = new URL("../..", import.meta.url).pathname;
const PREFLIGHT = join(ROOT, "build/pinned_node.mjs");
const PINNED = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).devDependencies.node as string;

test("the pinned Node passes the build's preflight without a word", () => {
  assert.is(process.version, `v${PINNED}`, "the tests run on the pinned Node");
  const r = spawnSync(process.execPath, [PREFLIGHT], { encoding: "utf8" });
  assert.equal([r.status, r.stdout, r.stderr], [0, "", ""]);
});

test("another runtime (here Deno's Node, another version) is refused with what to do (npm ci with install scripts), not 'Unknown file extension .ts'", () => {
  const r = spawnSync(join(ROOT, "node_modules/.bin/deno"), ["run", "-A", PREFLIGHT], { encoding: "utf8" });
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^sfx build: this is Node v[\\d.]+, not the pinned ${PINNED.replace(/\./g, "\\.")} that the binary is made of: run 'npm ci' \\(with install scripts`));
});

test.run();
