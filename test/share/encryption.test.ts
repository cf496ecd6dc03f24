/**
 * Shares enciphered end to end: what the server is sent, stores and logs
 * holds neither the code nor a name nor a byte of the files, and what it
 * could change (bytes, the sealed list, which file is which) is found out
 * by the downloader, with nothing kept under a final name.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { isSfxError } from "../../src/errors.ts";
import { collectShareFiles, ShareClient } from "../../src/client/share.ts";
import type { AnyMessage } from "../../src/protocol/index.ts";
import { ShareLs } from "../../src/protocol/share.ts";
import { codeKey, generateCode, parseCode } from "../../src/share/code.ts";
import { ShareCipher } from "../../src/share/share_crypto.ts";
import { ShareService } from "../../src/share/service.ts";
import { ShareStore } from "../../src/share/store.ts";
import { closeWorlds, Loop } from "./_loop.ts";
import { until } from "../pairing/_harness.ts";
import { rejects } from "../_refused.ts";

interface World {
  base: string;
  src: string;
  out: string;
  store: ShareStore;
  /** Every control message the server was sent, as JSON. */
  heard: string[];
  loops: Loop[];
  /** A client through a new connection; `rewrite` changes what the server says on the way (a server that lies). */
  client(rewrite?: (msg: AnyMessage) => AnyMessage): ShareClient;
  /** Closes the store, runs `meanwhile` (changes on disk), and opens it again (what a restart reads). */
  reopen(meanwhile?: () => void): Promise<void>;
}

const worlds: World[] = [];

async function world(): Promise<World> {
  const base = mkdtempSync(join(tmpdir(), "sfx-share-enc-"));
  const dir = join(base, "store");
  const open = () => ShareStore.open({ dir, sweepTimer: false });
  const w: World = {
    base,
    src: join(base, "src"),
    out: join(base, "out"),
    store: await open(),
    heard: [],
    loops: [],
    client(rewrite) {
      const service = new ShareService(w.store);
      const handle = service.handleMessage.bind(service);
      service.handleMessage = (peer, msg: AnyMessage) => {
        w.heard.push(JSON.stringify(msg));
        return handle(peer, msg);
      };
      const loop = new Loop(service);
      w.loops.push(loop);
      if (!rewrite) return new ShareClient(loop.link);
      return new ShareClient({ ...loop.link, onMessage: (handler) => loop.link.onMessage((m) => handler(rewrite(m))) });
    },
    async reopen(meanwhile) {
      for (const l of w.loops.splice(0)) await l.close();
      await w.store.close();
      meanwhile?.();
      w.store = await open();
    },
  };
  mkdirSync(w.src);
  mkdirSync(w.out);
  worlds.push(w);
  return w;
}

test.after.each(() => closeWorlds(worlds));


/** Every file under `dir`, with its bytes. */
function everything(dir: string): { path: string; bytes: Buffer }[] {
  const out: { path: string; bytes: Buffer }[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push({ path: join(e.parentPath, e.name), bytes: readFileSync(join(e.parentPath, e.name)) });
  }
  return out;
}

/** The share directory of `code` in the store (its files under `files/0`, `files/1`, …). */
function shareDir(w: World, code: string): string {
  return join(w.store.dir, "shares", codeKey(code));
}

async function putTwo(w: World): Promise<{ code: string; one: Buffer; two: Buffer }> {
  const one = Buffer.from("the launch is on tuesday; ".repeat(4000));
  const two = Buffer.from("PAYROLL 2026: ".repeat(50));
  mkdirSync(join(w.src, "plans"));
  writeFileSync(join(w.src, "plans", "secret-launch.txt"), one);
  writeFileSync(join(w.src, "plans", "payroll.csv"), two);
  const created = await w.client().put(await collectShareFiles([join(w.src, "plans")]));
  return { code: created.code, one, two };
}

test("what the server is sent, keeps and logs holds neither the code, nor a name, nor a byte of the files; the code alone gets them back", async () => {
  const records: LogRecord[] = [];
  await configure({ reset: true, sinks: { mem: (r) => records.push(r) }, loggers: [{ category: ["sfx"], lowestLevel: "debug", sinks: ["mem"] }] });
  try {
    const w = await world();
    const { code, one, two } = await putTwo(w);
    const listing = await w.client().list(code);
    assert.equal(listing.files.map((f) => f.path).sort(), ["plans/payroll.csv", "plans/secret-launch.txt"]);
    assert.ok(listing.enciphered);
    const got = await w.client().get(code, { dir: w.out });
    assert.is(got.files.length, 2);
    assert.ok(readFileSync(join(w.out, "plans", "secret-launch.txt")).equals(one));
    assert.ok(readFileSync(join(w.out, "plans", "payroll.csv")).equals(two));

    const canonical = parseCode(code);
    const secrets = [canonical, code, "secret-launch", "payroll", "plans/", "launch is on tuesday", "PAYROLL 2026"];
    const heard = w.heard.join("\n");
    const logged = records.map((r) => JSON.stringify({ message: r.message, properties: r.properties })).join("\n");
    const stored = everything(w.store.dir);
    assert.ok(stored.length >= 3, "the share's two files and its manifest");
    for (const s of secrets) {
      assert.not.ok(heard.toUpperCase().includes(s.toUpperCase()), `the server was sent ${JSON.stringify(s)}`);
      assert.not.ok(logged.toUpperCase().includes(s.toUpperCase()), `the server logged ${JSON.stringify(s)}`);
      for (const f of stored) assert.not.ok(f.bytes.includes(s), `${f.path} holds ${JSON.stringify(s)}`);
    }
    // The bytes are there, enciphered: same sizes, nothing added.
    const sizes = readdirSync(join(shareDir(w, code), "files")).map((n) => readFileSync(join(shareDir(w, code), "files", n)).length).sort((a, b) => a - b);
    assert.equal(sizes, [two.length, one.length]);
    // What the server was sent to find it: the lookup, which is not the code's store key's input in the clear.
    assert.ok(heard.includes(ShareCipher.of(code).lookup));
  } finally {
    await reset();
  }
});

test("a byte changed in the store fails that file's get with SFX_INTEGRITY; nothing is kept under its name, and the server is told neither the name nor the hash it expected", async () => {
  const w = await world();
  const { code, one, two } = await putTwo(w);
  const files = join(shareDir(w, code), "files");
  for (const n of readdirSync(files)) {
    const p = join(files, n);
    const b = readFileSync(p);
    b[b.length >> 1] ^= 1;
    writeFileSync(p, b);
  }
  const err = await w.client().get(code, { dir: w.out }).then(() => undefined, (e: Error) => e);
  assert.ok(isSfxError(err, "SFX_INTEGRITY"), String(err));
  assert.not.ok(existsSync(join(w.out, "plans", "secret-launch.txt")));
  assert.not.ok(existsSync(join(w.out, "plans", "payroll.csv")));
  // The user is told which file and what was expected; the server, which could have caused it, is not.
  const expected = [one, two].map((b) => createHash("sha256").update(b).digest("hex").slice(0, 12));
  assert.ok(expected.some((h) => err!.message.includes(h)), err!.message);
  await until(() => w.heard.some((m) => m.includes('"share.cancel"')), 3000, "the cancel");
  const cancels = w.heard.filter((m) => m.includes('"share.cancel"'));
  assert.is(cancels.length, 1, w.heard.join("\n"));
  assert.match(cancels[0], /"reason":"failed on the client \(SFX_INTEGRITY\)"/);
});

test("an upload that fails tells the server why in kind only, not the file's name", async () => {
  const w = await world();
  const err = await w.client().put([{ path: "private/salary-2027.xlsx", size: 10, read: async function* () { yield new Uint8Array(4); } }]).then(() => undefined, (e: Error) => e);
  assert.ok(isSfxError(err, "SFX_IO"), String(err));
  assert.match(err!.message, /salary-2027\.xlsx changed while it was being uploaded/);
  await until(() => w.heard.some((m) => m.includes('"share.cancel"')), 3000, "the cancel");
  const cancels = w.heard.filter((m) => m.includes('"share.cancel"'));
  assert.equal(cancels.map((m) => JSON.parse(m).reason), ["failed on the client (SFX_IO)"]);
  assert.not.ok(w.heard.join("\n").includes("salary"));
});

test("two files swapped in the store (sizes alike) are found out: each deciphers with the other's key stream", async () => {
  const w = await world();
  const a = randomBytes(70_000);
  const b = randomBytes(70_000);
  writeFileSync(join(w.src, "a.bin"), a);
  writeFileSync(join(w.src, "b.bin"), b);
  const { code } = await w.client().put(await collectShareFiles([join(w.src, "a.bin"), join(w.src, "b.bin")]));
  await w.reopen(() => {
    const files = join(shareDir(w, code), "files");
    renameSync(join(files, "0"), join(files, "x"));
    renameSync(join(files, "1"), join(files, "0"));
    renameSync(join(files, "x"), join(files, "1"));
    // The manifest's hashes (of what was uploaded) swapped too, so the server sees nothing amiss.
    const manifestPath = join(shareDir(w, code), "manifest.json");
    const m = JSON.parse(readFileSync(manifestPath, "utf8"));
    [m.files[0].sha256, m.files[1].sha256] = [m.files[1].sha256, m.files[0].sha256];
    writeFileSync(manifestPath, JSON.stringify(m));
  });
  await rejects(w.client().get(code, { dir: w.out }), "SFX_INTEGRITY");
  assert.equal(readdirSync(w.out).filter((n) => !n.startsWith(".")), []);
});

test("a sealed list changed on the server, dropped, or listed against other files does not open: SFX_PROTOCOL before anything is fetched", async () => {
  const w = await world();
  const { code } = await putTwo(w);
  const manifestPath = join(shareDir(w, code), "manifest.json");
  const original = readFileSync(manifestPath, "utf8");
  const edit = (change: (m: { sealed?: string; files: { path: string; size: number }[] }) => void) =>
    w.reopen(() => {
      const m = JSON.parse(original);
      change(m);
      writeFileSync(manifestPath, JSON.stringify(m));
    });
  // One character of the sealed list changed.
  await edit((m) => {
    const s = m.sealed!;
    const i = s.length >> 1;
    m.sealed = s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
  });
  await rejects(w.client().list(code), "SFX_PROTOCOL", /does not open with this code's key/);
  // Another share's sealed list, under this share's lookup.
  const other = ShareCipher.generate().seal([{ path: "x", size: 1, sha256: "0".repeat(64) }]);
  await edit((m) => (m.sealed = other));
  await rejects(w.client().list(code), "SFX_PROTOCOL", /does not open/);
  // No sealed list: a share in the clear, under a code that says it is enciphered. The server does
  // not serve a share in the clear by a lookup; one that lies about it is found out all the same.
  await edit((m) => delete m.sealed);
  await rejects(w.client().list(code), "SFX_SHARE_NOT_FOUND");
  await edit(() => {});
  const unsealed = (m: AnyMessage) => (m.type === "share.listing" ? { ...m, sealed: undefined } : m);
  await rejects(w.client(unsealed).list(code), "SFX_PROTOCOL", /without its sealed list/);
  // A file dropped from the server's list.
  await edit((m) => m.files.pop());
  await rejects(w.client().get(code, { dir: w.out }), "SFX_PROTOCOL", /not those of the share's sealed list/);
  assert.equal(readdirSync(w.out), []);
});

test("a share in the clear, made before shares were enciphered (a 20-character code), still lists and downloads, and says so", async () => {
  const w = await world();
  const data = Buffer.from("made by an older server");
  const upload = await w.store.beginUpload({ files: [{ path: "old.txt", size: data.length }] });
  const sink = await upload.file(0);
  await sink.write(new Uint8Array(data));
  await sink.end(createHash("sha256").update(data).digest("hex"));
  const { code } = await upload.commit();
  assert.is(parseCode(code).length, 20);
  const client = w.client();
  const listing = await client.list(code);
  assert.equal([listing.enciphered, listing.files.map((f) => f.path)], [false, ["old.txt"]]);
  await client.get(code, { dir: w.out });
  assert.is(readFileSync(join(w.out, "old.txt"), "utf8"), "made by an older server");
  // Not even this code is sent, but its store key: a code of today typed a group short is not given away.
  assert.not.ok(w.heard.some((m) => m.includes(parseCode(code))));
  assert.ok(w.heard.some((m) => m.includes(`v1:${codeKey(code)}`)));
});

test("an upload under a lookup already in use is refused, and the share under it is left as it was", async () => {
  const w = await world();
  const { code, one } = await putTwo(w);
  await rejects(w.store.beginUpload({ files: [{ path: "0", size: 1 }], lookup: ShareCipher.of(code).lookup }), "SFX_BAD_CODE", /had this code already/);
  await w.client().get(code, { dir: w.out });
  assert.ok(readFileSync(join(w.out, "plans", "secret-launch.txt")).equals(one));
});

test("names are sealed in NFC as the server stored them before; a sealed list whose names no share may hold is refused before anything is written", async () => {
  const w = await world();
  const nfd = "cafe\u0301.txt";
  const data = new TextEncoder().encode("latte");
  const { code } = await w.client().put([{ path: nfd, size: data.length, read: async function* () { yield new Uint8Array(data); } }]);
  assert.equal((await w.client().list(code)).files.map((f) => f.path), [nfd.normalize("NFC")]);
  // An uploader with the code (not the server) seals names sfx would not: each is refused on the way down.
  const manifestPath = join(shareDir(w, code), "manifest.json");
  const original = JSON.parse(readFileSync(manifestPath, "utf8"));
  for (const bad of ["../escape.txt", "README", nfd, "a\u001b[2J.txt"]) {
    const names = bad === "README" ? ["README", "readme"] : [bad];
    await w.reopen(() => {
      const m = structuredClone(original);
      m.files = names.map((_, i) => ({ ...original.files[0], path: String(i), blob: String(i) }));
      m.sealed = ShareCipher.of(code).seal(names.map((path) => ({ path, size: data.length, sha256: "ab".repeat(32) })));
      writeFileSync(manifestPath, JSON.stringify(m));
    });
    await rejects(w.client().get(code, { dir: w.out }), "SFX_PROTOCOL", /^The share's sealed list holds /);
    assert.equal(readdirSync(w.out), [], bad);
  }
});

test("the server refuses a code sent as it is (a client that would give it the key away): SFX_BAD_CODE, nothing looked up", async () => {
  const w = await world();
  const { code } = await putTwo(w);
  const loop = new Loop(new ShareService(w.store));
  w.loops.push(loop);
  for (const sent of [code, parseCode(code), generateCode(true)]) {
    const answer = new Promise<AnyMessage>((resolve) => {
      const off = loop.link.onMessage((m) => (off(), resolve(m)));
    });
    loop.link.send(ShareLs.encode({ req: 1, code: sent }));
    const a = (await answer) as unknown as { type: string; code: string; message: string };
    assert.equal([a.type, a.code], ["error", "SFX_BAD_CODE"], sent);
    assert.match(a.message, /never the code itself/);
  }
});

test("a code of today that finds nothing is 'no share' (the server is sent its lookup); a code of the old length too", async () => {
  const w = await world();
  await rejects(w.client().list(generateCode()), "SFX_SHARE_NOT_FOUND");
  await rejects(w.client().list(generateCode(true)), "SFX_SHARE_NOT_FOUND");
});

test.run();
