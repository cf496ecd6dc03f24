/**
 * What a receive code costs an exchange: the CPace run (src/protocol/cpace.ts) each end does once,
 * Elligator 2 in BigInt and two X25519 multiplications, against the X25519 key agreement every
 * exchange already does (exchange_crypto.ts), in the same process and minute. Prints the median of
 * five rounds of `--runs` each, per end.
 *
 * Usage: node bench/cpace.ts [--runs 200]
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { Cpace } from "../src/protocol/cpace.ts";
import { ExchangeKeyPair } from "../src/protocol/exchange_crypto.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "200" } } });
const runs = Math.max(1, Number(values.runs));
const files = [{ path: "report.pdf", size: 5_000_000 }];

/** Milliseconds per end for one exchange's worth of `work` (which does both ends), the median of five rounds. */
function perEnd(work: () => void): number {
  for (let i = 0; i < 20; i++) work(); // warmed up first
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    for (let i = 0; i < runs; i++) work();
    rounds.push((performance.now() - t) / runs / 2);
  }
  return rounds.sort((a, b) => a - b)[2];
}

const cpace = perEnd(() => {
  const ctx = { ci: "482913", sid: randomBytes(32) };
  const a = Cpace.start("305117", ctx, "digest"), b = Cpace.start("305117", ctx);
  const ka = a.finish(b.share, "", "initiator"), kb = b.finish(a.share, "digest", "responder");
  if (!kb.checkTag(ka.tag)) throw new Error("the runs disagree");
});
const x25519 = perEnd(() => {
  const s = ExchangeKeyPair.generate(), r = ExchangeKeyPair.generate();
  s.agree(r.publicKey, "sender", { files });
  r.agree(s.publicKey, "receiver", { files, commitment: s.commitment });
});
console.log(`per end of one exchange: CPace ${cpace.toFixed(2)} ms, X25519 key agreement ${x25519.toFixed(2)} ms (${(cpace / x25519).toFixed(1)}×)`);
