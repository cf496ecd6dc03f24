/**
 * Small helpers the benchmark scripts share: sizes as people write them,
 * and waiting for a line a child process prints.
 *
 * @module
 */

/** "1G", "32M", "512k", "1000" → bytes (powers of 1024). */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(text);
  if (!m) throw new Error(`bad size ${text}`);
  return Math.round(Number(m[1]) * { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[m[2].toLowerCase() as ""]!);
}

/** Resolves with the first match of `re` in what `get()` returns, polled every 20 ms; throws after `ms`. */
export async function waitFor(get: () => string, re: RegExp, ms: number, what: string): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const m = get().match(re);
    if (m) return m;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}: ${get().slice(-2000)}`);
}
