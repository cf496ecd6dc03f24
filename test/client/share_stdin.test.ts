import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isSfxError } from "../../src/errors.ts";
import { collectShareFiles, spoolStdin } from "../../src/client/share.ts";
import { withTmpfs } from "../_tmpfs.ts";

const base = mkdtempSync(join(tmpdir(), "sfx-stdin-test-"));
test.after(() => rmSync(base, { recursive: true, force: true }));

async function* chunks(...parts: (string | Uint8Array)[]): AsyncIterable<Uint8Array | string> {
  for (const p of parts) yield p;
}

async function bytesOf(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Uint8Array[] = [];
  for await (const c of it) out.push(c);
  return Buffer.concat(out);
}

async function refused(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.ok(isSfxError(err, code as never), String(err));
    assert.match((err as Error).message, message);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

test("spoolStdin saves the stream to a private file of known size, read back whole, removed after", async () => {
  const dir = join(base, "ok");
  mkdirSync(dir);
  const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i * 13);
  const f = await spoolStdin("logs/today.txt", chunks("head ", big, "tail"), dir);
  assert.is(f.path, "logs/today.txt");
  assert.is(f.size, 5 + big.length + 4);
  const [spool] = readdirSync(dir);
  assert.is(statSync(join(dir, spool, "stdin")).mode & 0o777, 0o600);
  const back = await bytesOf(f.read());
  assert.is(back.length, f.size);
  assert.is(back.subarray(0, 5).toString(), "head ");
  assert.ok(back.subarray(5, 5 + big.length).equals(big));
  await f.remove();
  await f.remove();
  assert.equal(readdirSync(dir), []);
});

test("spoolStdin refuses a name the share would refuse, before reading anything", async () => {
  const dir = join(base, "names");
  mkdirSync(dir);
  let read = false;
  const input = (async function* () {
    read = true;
    yield "x";
  })();
  await refused(spoolStdin("../escape", input, dir), "SFX_USAGE", /Invalid --name "\.\.\/escape"/);
  assert.not.ok(read);
  assert.equal(readdirSync(dir), []);
});

test("spoolStdin on a full disk: SFX_IO saying so and where, and nothing left behind", async () => {
  const dir = join(base, "full");
  mkdirSync(dir);
  await withTmpfs(dir, "256k", async () => {
    const input = (async function* () {
      for (let i = 0; i < 64; i++) yield new Uint8Array(16 * 1024);
    })();
    await refused(spoolStdin("big.bin", input, dir), "SFX_IO", /Cannot save standard input to .*: the disk is full .*TMPDIR/);
    assert.equal(readdirSync(dir), []);
  });
});

test("spoolStdin: standard input that cannot be read (opened for writing only: EBADF) is said as such, not as a failure to save it", async () => {
  const dir = join(base, "ebadf");
  mkdirSync(dir);
  async function* unreadable(): AsyncIterable<Uint8Array> {
    yield new Uint8Array(10);
    throw Object.assign(new Error("EBADF: bad file descriptor, read"), { code: "EBADF" });
  }
  await refused(spoolStdin("x.bin", unreadable(), dir), "SFX_IO", /^Cannot read standard input: bad file descriptor \(EBADF\)$/);
  assert.equal(readdirSync(dir), [], "the spool is removed");
});

test("collectShareFiles puts the spooled stdin where '-' stands; '-' without it or twice is SFX_USAGE, a name clash SFX_BAD_ARGUMENT", async () => {
  const dir = join(base, "collect");
  mkdirSync(dir);
  writeFileSync(join(dir, "a.txt"), "a");
  writeFileSync(join(dir, "c.txt"), "c");
  const stdin = await spoolStdin("b.txt", chunks("b"), dir);
  try {
    const files = await collectShareFiles([join(dir, "a.txt"), "-", join(dir, "c.txt")], undefined, { stdin });
    assert.equal(files.map((f) => [f.path, f.size]), [["a.txt", 1], ["b.txt", 1], ["c.txt", 1]]);
    // After a directory's files, not in their middle.
    mkdirSync(join(dir, "d"));
    for (const n of ["1", "2", "3"]) writeFileSync(join(dir, "d", n), n);
    const mixed = await collectShareFiles([join(dir, "d"), "-", join(dir, "c.txt")], undefined, { stdin });
    assert.equal(mixed.map((f) => f.path), ["d/1", "d/2", "d/3", "b.txt", "c.txt"]);
    await refused(collectShareFiles(["-"]), "SFX_USAGE", /cannot read standard input/);
    await refused(collectShareFiles(["-", "-"], undefined, { stdin }), "SFX_USAGE", /only once/);
    const clash = await spoolStdin("a.txt", chunks("x"), dir);
    try {
      await refused(collectShareFiles([join(dir, "a.txt"), "-"], undefined, { stdin: clash }), "SFX_BAD_ARGUMENT", /"a\.txt": another file, "a\.txt", has the same name/);
    } finally {
      await clash.remove();
    }
  } finally {
    await stdin.remove();
  }
});

test("a spool is removed however the process ends (a second Ctrl-C calls process.exit, skipping every finally)", async () => {
  const dir = join(base, "exit");
  mkdirSync(dir);
  const script = `import { spoolStdin } from ${JSON.stringify(new URL("../../src/client/share.ts", import.meta.url).href)};
    async function* one() { yield "data"; }
    await spoolStdin("x.txt", one(), ${JSON.stringify(dir)});
    process.exit(130);`;
  const { spawnSync } = await import("node:child_process");
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  assert.is(r.status, 130, r.stderr);
  assert.equal(readdirSync(dir), []);
});

test.run();
