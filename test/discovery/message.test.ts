import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  decodeDiscoveryMessage,
  DiscoveryDecodeError,
  type DiscoveryReply,
  type DropReason,
  encodeQuery,
  encodeReply,
  isDiscoveryDatagram,
  parseIpAddress,
} from "../../src/discovery/message.ts";

const nonce = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
const instanceId = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
const baseReply: Omit<DiscoveryReply, "type"> = {
  nonce,
  instanceId,
  port: 6969,
  name: "office",
  version: "0.1.0",
  addresses: ["10.0.0.5", "fd00::2"],
};

function rejects(data: Uint8Array, reason: DropReason, label: string): void {
  try {
    decodeDiscoveryMessage(data);
  } catch (err) {
    assert.instance(err, DiscoveryDecodeError, label);
    assert.is((err as DiscoveryDecodeError).reason, reason, `${label}: ${(err as Error).message}`);
    assert.is((err as DiscoveryDecodeError).code, "SFX_PROTOCOL", label);
    return;
  }
  assert.unreachable(`${label}: decoded, expected a '${reason}' rejection`);
}

test("a query round-trips and is padded to 512 bytes, the size of the largest reply or more", () => {
  const bytes = encodeQuery(nonce);
  assert.is(bytes.length, 512);
  assert.ok(isDiscoveryDatagram(bytes));
  const m = decodeDiscoveryMessage(bytes);
  assert.equal(m, { type: "query", nonce });
});

test("replies round-trip (table)", () => {
  const cases: Array<[string, Partial<DiscoveryReply>, Partial<DiscoveryReply>?]> = [
    ["plain", {}],
    ["no addresses", { addresses: [] }],
    ["unicode name", { name: "Büro – 東京" }],
    ["port 1 and 65535", { port: 1 }],
    ["port 65535", { port: 65535 }],
    ["64-byte name kept whole", { name: "n".repeat(64) }],
    ["long name cut to 64 bytes", { name: "x".repeat(100) }, { name: "x".repeat(64) }],
    ["cut never splits a character", { name: "é".repeat(40) }, { name: "é".repeat(32) }],
    ["controls in the name replaced", { name: "a\u001b[31mb\n" }, { name: "a?[31mb?" }],
    ["bidi overrides and line separators replaced", { name: "office\u202e9696:02.1\u2028lab\u009b" }, { name: "office?9696:02.1?lab?" }],
    ["bidi marks and invisible characters replaced", { name: "a\u200fb\u200bc\u061cd\ufeffe\u2060f" }, { name: "a?b?c?d?e?f" }],
    ["emoji joiners kept", { name: "team \u{1f468}\u200d\u{1f469}" }],
    ["spaces trimmed and runs made one", { name: "  office1   10.0.0.1:6969  " }, { name: "office1 10.0.0.1:6969" }],
    ["a cut just after a space leaves none at the end", { name: `${"x".repeat(63)} tail` }, { name: "x".repeat(63) }],
    ["IPv6 text normalised (RFC 5952)", { addresses: ["2001:DB8:0:0:1:0:0:1", "1:0:0:2:0:0:0:3", "::1", "::", "::ffff:1.2.3.4", "fe80::1%eth0"] }, {
      addresses: ["2001:db8::1:0:0:1", "1:0:0:2::3", "::1", "::", "::ffff:102:304", "fe80::1"],
    }],
    ["unparsable addresses skipped", { addresses: ["10.0.0.1", "host.example", "256.1.1.1", "1::2::3", "10.0.0.2"] }, {
      addresses: ["10.0.0.1", "10.0.0.2"],
    }],
    ["at most 16 addresses", { addresses: Array.from({ length: 20 }, (_, i) => `10.0.0.${i}`) }, {
      addresses: Array.from({ length: 16 }, (_, i) => `10.0.0.${i}`),
    }],
  ];
  for (const [label, change, expectChange] of cases) {
    const input = { ...baseReply, ...change };
    const bytes = encodeReply(input);
    assert.ok(bytes.length <= 512, label);
    const m = decodeDiscoveryMessage(bytes);
    assert.equal(m, { type: "reply", ...input, ...expectChange }, label);
  }
});

test("the largest possible reply is no larger than a query (no amplification)", () => {
  const bytes = encodeReply({
    ...baseReply,
    name: "€".repeat(64),
    version: "v".repeat(64),
    addresses: Array.from({ length: 16 }, (_, i) => `2001:db8:1:2:3:4:5:${i + 1}`),
  });
  assert.ok(bytes.length <= encodeQuery(nonce).length, `${bytes.length} bytes`);
  assert.is(decodeDiscoveryMessage(bytes).type, "reply");
});

test("encodeReply() refuses what it cannot represent", () => {
  assert.throws(() => encodeReply({ ...baseReply, port: 0 }), RangeError);
  assert.throws(() => encodeReply({ ...baseReply, port: 65536 }), RangeError);
  assert.throws(() => encodeReply({ ...baseReply, name: "" }), RangeError);
  assert.throws(() => encodeReply({ ...baseReply, name: "   " }), RangeError);
  assert.throws(() => encodeReply({ ...baseReply, instanceId: new Uint8Array(4) }), RangeError);
  assert.throws(() => encodeQuery(new Uint8Array(15)), RangeError);
});

test("decodeDiscoveryMessage() rejects bad datagrams with the right reason (table)", () => {
  const query = encodeQuery(nonce);
  const reply = encodeReply(baseReply);
  const edit = (bytes: Uint8Array, at: number, value: number) => {
    const copy = bytes.slice();
    copy[at] = value;
    return copy;
  };
  const concat = (...parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
  // Offsets in `reply`: header 0-7, nonce 8-23, instance 24-31, port 32-33, name length 34, name 35-40 ("office"), version length 41.
  const nameLenAt = 34;
  const cases: Array<[string, Uint8Array, DropReason]> = [
    ["empty", new Uint8Array(0), "foreign"],
    ["a lone zero byte", Uint8Array.of(0), "foreign"],
    ["SCTP common header (ports 6969 → 6969)", Uint8Array.of(0x1b, 0x39, 0x1b, 0x39, 0, 0, 0, 0, 0, 0, 0, 0), "foreign"],
    ["magic with a wrong byte", edit(query, 3, 0x67), "foreign"],
    ["magic only", query.slice(0, 6), "malformed"],
    ["header without a nonce", query.slice(0, 8), "malformed"],
    ["version 0", edit(query, 6, 0), "version"],
    ["version 2", edit(query, 6, 2), "version"],
    ["query one byte short", query.slice(0, 511), "malformed"],
    ["query without its padding", query.slice(0, 24), "malformed"],
    ["query with non-zero padding", edit(query, 300, 1), "malformed"],
    ["query with a trailing byte", concat(query, Uint8Array.of(0)), "oversized"],
    ["unknown type 0", edit(query, 7, 0), "malformed"],
    ["unknown type 3", edit(query, 7, 3), "malformed"],
    ["reply with a trailing byte", concat(reply, Uint8Array.of(0)), "malformed"],
    ["reply port 0", edit(edit(reply, 32, 0), 33, 0), "malformed"],
    ["name length 0", edit(reply, nameLenAt, 0), "malformed"],
    ["name length 65", edit(reply, nameLenAt, 65), "malformed"],
    ["name length 255 beyond the end", edit(reply, nameLenAt, 255), "malformed"],
    ["name not UTF-8", edit(reply, 35, 0xff), "malformed"],
    ["name with an escape character", edit(reply, 35, 0x1b), "malformed"],
    ["name starting with a space", edit(reply, 35, 0x20), "malformed"],
    ["name ending with a space", edit(reply, 40, 0x20), "malformed"],
    ["name with two spaces in a row", edit(edit(reply, 37, 0x20), 38, 0x20), "malformed"],
    ["address count 17", edit(reply, reply.length - 23, 17), "malformed"],
    ["address count beyond the end", edit(reply, reply.length - 23, 3), "malformed"],
    ["address family 5", edit(reply, reply.length - 22, 5), "malformed"],
    ["513 bytes", concat(reply, new Uint8Array(513 - reply.length)), "oversized"],
    ["64 KiB of zeros", new Uint8Array(65507), "oversized"],
  ];
  // Sanity: the offsets above point where they claim to.
  assert.is(reply[nameLenAt], 6);
  assert.is(reply[reply.length - 23], 2); // address count
  assert.is(reply[reply.length - 22], 4); // first family
  for (const [label, data, reason] of cases) rejects(data, reason, label);
  // Every truncation of a valid reply is malformed (none decodes, none throws anything else).
  for (let n = 8; n < reply.length; n++) rejects(reply.slice(0, n), "malformed", `reply cut to ${n} bytes`);
});

test("isDiscoveryDatagram() never matches an SCTP packet (source port 0 is illegal)", () => {
  for (let port = 1; port < 65536; port += 97) {
    const sctp = Uint8Array.of(port >> 8, port & 0xff, 0x73, 0x66, 0x78, 0x64, 0, 0, 0, 0, 0, 0);
    assert.not.ok(isDiscoveryDatagram(sctp), `source port ${port}`);
  }
  assert.ok(isDiscoveryDatagram(encodeQuery(nonce)));
  assert.not.ok(isDiscoveryDatagram(Uint8Array.of(0, 0, 0x73, 0x66, 0x78)));
});

test("parseIpAddress() reads IPv4 and IPv6 text and refuses the rest", () => {
  assert.equal(parseIpAddress("192.0.2.1"), Uint8Array.of(192, 0, 2, 1));
  assert.equal(parseIpAddress("::1"), Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1));
  for (const bad of ["", "1.2.3", "1.2.3.4.5", "300.1.1.1", ":::", "1:2:3:4:5:6:7:8:9", "1::2::3", "g::1", "1:2:3:4:5:6:7::8"]) {
    assert.is(parseIpAddress(bad), undefined, bad);
  }
});

test.run();
