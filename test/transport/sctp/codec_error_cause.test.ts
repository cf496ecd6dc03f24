/**
 * Error causes (RFC 9260 §3.3.10): constructors, parsers, list codec.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CAUSE } from "../../../src/transport/sctp/chunk_types.ts";
import type { ErrorCause } from "../../../src/transport/sctp/chunk_types.ts";
import {
  causeText,
  cookieWhileShuttingDownCause,
  decodeCauses,
  describeCause,
  encodeCauses,
  invalidMandatoryParameterCause,
  invalidStreamIdentifierCause,
  missingMandatoryParameterCause,
  noUserDataCause,
  outOfResourceCause,
  parseInvalidStreamIdentifier,
  parseMissingMandatoryParameter,
  parseNoUserData,
  parseStaleCookie,
  parseUnrecognizedChunkType,
  parseUnrecognizedParameters,
  protocolViolationCause,
  staleCookieCause,
  unrecognizedChunkTypeCause,
  unrecognizedParametersCause,
  userInitiatedAbortCause,
} from "../../../src/transport/sctp/error_cause.ts";
import { assertDecodeError, hex, toHex } from "./_codec_helpers.ts";

/** [name, cause, its encoding as a one-cause list (padded), describeCause() text] */
const KNOWN: Array<[string, ErrorCause, string, string]> = [
  ["Invalid Stream Identifier", invalidStreamIdentifierCause(0x1234), "0001 0008 1234 0000", "Invalid Stream Identifier: stream 4660"],
  ["Missing Mandatory Parameter", missingMandatoryParameterCause([7, 0x8000]), "0002 000c 00000002 0007 8000", "Missing Mandatory Parameter: 7, 32768"],
  ["Stale Cookie", staleCookieCause(1_500_000), "0003 0008 0016e360", "Stale Cookie Error: 1500000 µs late"],
  ["Out of Resource", outOfResourceCause(), "0004 0004", "Out of Resource"],
  ["Unrecognized Chunk Type", unrecognizedChunkTypeCause({ type: 0x49, flags: 1, value: hex("aa"), unknown: true }), "0006 0009 49010005aa 000000",
    "Unrecognized Chunk Type: 73"],
  ["Invalid Mandatory Parameter", invalidMandatoryParameterCause(), "0007 0004", "Invalid Mandatory Parameter"],
  ["Unrecognized Parameters", unrecognizedParametersCause([{ type: 0x8099, value: hex("01") }]), "0008 000c 8099 0005 01 000000",
    "Unrecognized Parameters: 32921"],
  ["No User Data", noUserDataCause(0xfffffffe), "0009 0008 fffffffe", "No User Data: TSN 4294967294"],
  ["Cookie Received While Shutting Down", cookieWhileShuttingDownCause(), "000a 0004", "Cookie Received While Shutting Down"],
  ["User-Initiated Abort", userInitiatedAbortCause("disk full"), "000c 000d 6469736b2066756c6c 000000", "User-Initiated Abort: disk full"],
  ["Protocol Violation", protocolViolationCause("é"), "000d 0006 c3a9 0000", "Protocol Violation: é"],
];

for (const [name, cause, bytes, text] of KNOWN) {
  test(`${name} cause encodes to the RFC layout, decodes back, and reads "${text}"`, () => {
    assert.is(toHex(encodeCauses([cause])), toHex(hex(bytes)));
    assert.equal(decodeCauses(hex(bytes)), [cause]);
    assert.is(describeCause(cause), text);
  });
}

test("parsers read back what constructors wrote", () => {
  assert.is(parseInvalidStreamIdentifier(invalidStreamIdentifierCause(65535)), 65535);
  assert.equal(parseMissingMandatoryParameter(missingMandatoryParameterCause([7])), [7]);
  assert.is(parseStaleCookie(staleCookieCause(12.4)), 12);
  assert.is(parseStaleCookie(staleCookieCause(1e12)), 0xffffffff);
  assert.is(parseNoUserData(noUserDataCause(42)), 42);
  assert.equal(parseUnrecognizedChunkType(unrecognizedChunkTypeCause(hex("49 00 0006 0102"))), { type: 0x49, flags: 0, value: hex("0102"), unknown: true });
  assert.equal(parseUnrecognizedParameters(unrecognizedParametersCause([{ type: 9, value: hex("0000ffff") }])), [{ type: 9, value: hex("0000ffff") }]);
  assert.is(causeText(userInitiatedAbortCause("bye")), "bye");
});

test("a list of causes encodes with padding between them and decodes in order", () => {
  const list = [userInitiatedAbortCause("x"), outOfResourceCause(), noUserDataCause(1)];
  const bytes = encodeCauses(list);
  assert.is(toHex(bytes), "000c000578000000" + "00040004" + "0009000800000001");
  assert.equal(decodeCauses(bytes), list);
});

test("parsers reject causes too short for their fields with SctpDecodeError", () => {
  assertDecodeError(() => parseStaleCookie({ code: CAUSE.STALE_COOKIE, info: hex("0102") }), "cause-length-mismatch", "stale");
  assertDecodeError(() => parseNoUserData({ code: CAUSE.NO_USER_DATA, info: hex("") }), "cause-length-mismatch", "no user data");
  assertDecodeError(() => parseInvalidStreamIdentifier({ code: 1, info: hex("01") }), "cause-length-mismatch", "stream");
  assertDecodeError(() => parseMissingMandatoryParameter({ code: 2, info: hex("00000003 0007") }), "cause-length-mismatch", "missing count");
  assertDecodeError(() => parseUnrecognizedChunkType({ code: 6, info: hex("49") }), "cause-length-mismatch", "chunk");
});

test("describeCause() never throws: malformed and unknown causes still describe", () => {
  assert.is(describeCause({ code: CAUSE.STALE_COOKIE, info: hex("01") }), "Stale Cookie Error (malformed)");
  assert.is(describeCause({ code: 0x1234, info: hex("01") }), "cause 4660");
  assert.is(describeCause(userInitiatedAbortCause("a\nb\u0000")), "User-Initiated Abort: a?b?");
});

/** [name, bytes, reason] */
const REJECT: Array<[string, string, string]> = [
  ["a 3-byte partial header", "000c00", "cause-truncated"],
  ["Length 3", "000c 0003 00", "cause-too-short"],
  ["Length past the end", "000c 0009 6869", "cause-truncated"],
];
for (const [name, bytes, reason] of REJECT) {
  test(`decodeCauses() rejects ${name} with "${reason}"`, () => assertDecodeError(() => decodeCauses(hex(bytes)), reason, name));
}

test.run();
