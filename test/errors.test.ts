import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { describeError, ERROR_CODES, exitStatusFor, isSfxError, SfxError } from "../src/errors.ts";
import { VERSION } from "../src/version.ts";

test("exitStatusFor() maps each code to its documented status and anything else to 1", () => {
  assert.is(exitStatusFor(new SfxError("SFX_PEER_BUSY", "busy")), ERROR_CODES.SFX_PEER_BUSY);
  assert.is(exitStatusFor(new SfxError("SFX_USAGE", "bad")), 2);
  assert.is(exitStatusFor(new Error("plain")), 1);
  assert.is(exitStatusFor("string"), 1);
});

test("describeError() is one line, and lists causes only when verbose", () => {
  const root = Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
  const err = new SfxError("SFX_IO", "Cannot write /x: permission denied", { cause: root });
  assert.is(describeError(err), "Cannot write /x: permission denied");
  assert.is(describeError(err, true), "Cannot write /x: permission denied\n  caused by: Error: EACCES: permission denied (EACCES)");
});

test("isSfxError() checks the class and, when given, the code", () => {
  const err = new SfxError("SFX_UNKNOWN_ID", "no such ID");
  assert.ok(isSfxError(err));
  assert.ok(isSfxError(err, "SFX_UNKNOWN_ID"));
  assert.not.ok(isSfxError(err, "SFX_PEER_BUSY"));
  assert.not.ok(isSfxError(new Error("x")));
});

test("VERSION equals package.json's version", () => {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  assert.is(VERSION, pkg.version);
});

test.run();
