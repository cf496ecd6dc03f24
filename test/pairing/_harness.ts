/** A server (sessions + pairing) and clients linked by in-memory associations. */
import { EventEmitter } from "node:events";
import { test } from "uvu";
import { ClientConnection } from "../../src/client/connection.ts";
import type { PairingLimits } from "../../src/pairing/defaults.ts";
import type { PairingLog } from "../../src/pairing/log.ts";
import { startExchangeService, type ExchangeService, type ExchangeServiceOptions } from "../../src/server/exchange_service.ts";
import { type FakeAssociation, fakeAssociationPair, type FakeOptions } from "../_fake_association.ts";

export interface LogRecord {
  level: string;
  message: string;
  props: Record<string, unknown>;
}

export function recordingLog(records: LogRecord[]): PairingLog {
  const rec = (level: string) => (message: string, props: Record<string, unknown> = {}) => {
    records.push({ level, message: message.replace(/\{(\w+)\}/g, (_, k) => String(props[k])), props });
  };
  return { debug: rec("debug"), info: rec("info"), warn: rec("warn"), error: rec("error") };
}

export interface Harness {
  service: ExchangeService;
  logs: LogRecord[];
  /** Server-side fakes, one per client. */
  serverSides: FakeAssociation[];
  client(opts?: FakeOptions & { protocol?: number }): Promise<{ conn: ClientConnection; fake: FakeAssociation; serverSide: FakeAssociation }>;
  raw(opts?: FakeOptions): { fake: FakeAssociation; serverSide: FakeAssociation };
  close(): Promise<void>;
}

export function startHarness(
  limits: Partial<PairingLimits> = {},
  fakeOpts: FakeOptions = {},
  unread: Pick<ExchangeServiceOptions, "maxUnreadBytes" | "maxUnreadControlBytes" | "maxUnreadControlTotal" | "unreadGraceMs" | "pingsPerSecond" | "now"> = {},
): Harness {
  const endpoint = new EventEmitter();
  const logs: LogRecord[] = [];
  const service = startExchangeService({ endpoint: endpoint as never, serverName: "test", limits, log: recordingLog(logs), ...unread });
  const conns: ClientConnection[] = [];
  const serverSides: FakeAssociation[] = [];
  const raw = (opts: FakeOptions = {}) => {
    const [fake, serverSide] = fakeAssociationPair({ ...fakeOpts, ...opts });
    serverSides.push(serverSide);
    endpoint.emit("association", serverSide);
    return { fake, serverSide };
  };
  return {
    service,
    logs,
    serverSides,
    raw,
    async client(opts = {}) {
      const { fake, serverSide } = raw(opts);
      const conn = await ClientConnection.handshake(fake, { timeoutMs: 2000, protocol: opts.protocol });
      conns.push(conn);
      return { conn, fake, serverSide };
    },
    async close() {
      for (const c of conns) await c.abort("test over");
      await service.close();
    },
  };
}

/** `err` with the server's log lines appended: what a test that fails now and then needs to be understood. */
export function withServerLog(h: Harness, err: unknown): Error {
  const log = h.logs.map((l) => `  ${l.level} ${l.message}`).join("\n");
  return new Error(`${String((err as Error)?.message ?? err)}\nThe server's log:\n${log}`, { cause: err });
}

/** Resolves when `cond()` holds; fails after `ms`. */
export async function until(cond: () => boolean, ms = 3000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** `p`, or a failure naming `what` after `ms`: a test that would wait for ever fails instead. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** A uvu test with a server and its clients in memory ({@link startHarness} with `limits`), closed after it. */
export function harnessed(name: string, fn: (h: Harness) => Promise<void>, limits?: Partial<PairingLimits>): void {
  test(name, async () => {
    const h = startHarness(limits);
    try {
      await fn(h);
    } finally {
      await h.close();
    }
  });
}
