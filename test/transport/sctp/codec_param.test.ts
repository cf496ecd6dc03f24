/**
 * TLV parameters (RFC 9260 §3.2.1) and their helpers.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { PARAM } from "../../../src/transport/sctp/chunk_types.ts";
import type { Param } from "../../../src/transport/sctp/chunk_types.ts";
import {
  decodeParams,
  encodeParams,
  findParam,
  forwardTsnSupportedParam,
  heartbeatInfoParam,
  ipv4AddressParam,
  ipv6AddressParam,
  padParam,
  paramsLength,
  parseIpv4Address,
  parseIpv6Address,
  parseSupportedExtensions,
  parseUnrecognizedParameter,
  stateCookieParam,
  supportedExtensionsParam,
  unrecognizedParameterParam,
} from "../../../src/transport/sctp/param.ts";
import { assertDecodeError, hex, toHex } from "./_codec_helpers.ts";

/** [name, params, standalone encoding (every parameter padded)] */
const KNOWN: Array<[string, Param[], string]> = [
  ["no parameters", [], ""],
  ["Forward-TSN-Supported", [forwardTsnSupportedParam()], "c000 0004"],
  ["State Cookie of 5 bytes then Heartbeat Info", [stateCookieParam(hex("0102030405")), heartbeatInfoParam(hex("aabb"))],
    "0007 0009 0102030405 000000 | 0001 0006 aabb 0000"],
  ["Supported Extensions listing I-DATA, FORWARD TSN, PAD", [supportedExtensionsParam([0x40, 0xc0, 0x84])], "8008 0007 40c084 00"],
  ["PAD of 6 bytes", [padParam(6)], "8005 000a 000000000000 0000"],
  ["IPv4 Address", [ipv4AddressParam("192.0.2.1")], "0005 0008 c0000201"],
  ["an unknown type", [{ type: 0x4321, value: hex("ff") }], "4321 0005 ff 000000"],
];

for (const [name, params, bytes] of KNOWN) {
  test(`encodeParams()/decodeParams(): ${name}`, () => {
    assert.is(toHex(encodeParams(params)), toHex(hex(bytes)));
    assert.equal(decodeParams(hex(bytes)), params);
  });
}

test("paramsLength() leaves the last parameter's padding out, as the Chunk Length does (§3.2)", () => {
  assert.is(paramsLength([stateCookieParam(hex("0102030405"))]), 9);
  assert.is(paramsLength([stateCookieParam(hex("0102030405")), forwardTsnSupportedParam()]), 16);
  assert.is(paramsLength([]), 0);
});

test("findParam() returns the first parameter of a type, or undefined", () => {
  const ps = [forwardTsnSupportedParam(), stateCookieParam(hex("01")), stateCookieParam(hex("02"))];
  assert.equal(findParam(ps, PARAM.STATE_COOKIE), stateCookieParam(hex("01")));
  assert.is(findParam(ps, PARAM.HEARTBEAT_INFO), undefined);
});

test("Supported Extensions round-trips its chunk type list", () => {
  assert.equal(parseSupportedExtensions(supportedExtensionsParam([0x40, 0xc0, 0xc2, 0x84])), [0x40, 0xc0, 0xc2, 0x84]);
});

test("Unrecognized Parameter wraps the whole TLV and unwraps it", () => {
  const inner: Param = { type: 0x8099, value: hex("010203") };
  const p = unrecognizedParameterParam(inner);
  assert.is(p.type, PARAM.UNRECOGNIZED_PARAMETER);
  assert.is(toHex(p.value), "80990007010203");
  assert.equal(parseUnrecognizedParameter(p), inner);
  assertDecodeError(() => parseUnrecognizedParameter({ type: 8, value: hex("8099 0009 0102") }), "param-truncated", "overrun");
});

const V6: Array<[string, string, string]> = [
  ["::1", "00000000000000000000000000000001", "::1"],
  ["2001:db8::8:800:200c:417a", "20010db8000000000008080020 0c417a", "2001:db8::8:800:200c:417a"],
  ["fe80:0:0:0:0:0:0:1", "fe800000000000000000000000000001", "fe80::1"],
  ["::ffff:192.0.2.1", "00000000000000000000ffffc0000201", "::ffff:c000:201"],
  ["1:2:3:4:5:6:7:8", "00010002000300040005000600070008", "1:2:3:4:5:6:7:8"],
  ["::", "00000000000000000000000000000000", "::"],
];
for (const [text, bytes, back] of V6) {
  test(`IPv6 Address parameter of ${text}`, () => {
    const p = ipv6AddressParam(text);
    assert.is(p.type, PARAM.IPV6_ADDRESS);
    assert.is(toHex(p.value), toHex(hex(bytes)));
    assert.is(parseIpv6Address(p), back);
  });
}

test("address helpers reject bad text with TypeError and bad values with SctpDecodeError", () => {
  for (const bad of ["1.2.3", "256.0.0.1", "a.b.c.d", ""]) assert.throws(() => ipv4AddressParam(bad), (e: unknown) => e instanceof TypeError, bad);
  for (const bad of ["1::2::3", "12345::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "g::"]) {
    assert.throws(() => ipv6AddressParam(bad), (e: unknown) => e instanceof TypeError, bad);
  }
  assert.is(parseIpv4Address(ipv4AddressParam("10.0.0.255")), "10.0.0.255");
  assertDecodeError(() => parseIpv4Address({ type: 5, value: hex("0102") }), "param-length-mismatch", "short v4");
  assertDecodeError(() => parseIpv6Address({ type: 6, value: hex("0102") }), "param-length-mismatch", "short v6");
});

/** [name, bytes, reason] */
const REJECT: Array<[string, string, string]> = [
  ["a 2-byte partial header", "c000", "param-truncated"],
  ["Length 0", "0007 0000", "param-too-short"],
  ["Length 3", "0007 0003 00", "param-too-short"],
  ["Length past the end", "0007 0010 01020304", "param-truncated"],
  ["a good parameter then 3 stray bytes", "c000 0004 | 000000", "param-truncated"],
];
for (const [name, bytes, reason] of REJECT) {
  test(`decodeParams() rejects ${name} with "${reason}"`, () => assertDecodeError(() => decodeParams(hex(bytes)), reason, name));
}

test.run();
