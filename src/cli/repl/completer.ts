/**
 * Tab completion at the `sfx client` prompt: command words, `share`
 * subcommands, a command's options after `-`, and file names where a
 * command takes paths (`send <code|id> …`, `share put …`).
 *
 * @module
 */
import { readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { COMMAND_WORDS, SHARE_WORDS } from "./commands.ts";
import { lastWord, quoteWord, splitWords } from "./words.ts";

/** Lists a directory's entries (names, and whether each is a directory); injectable for tests. */
export type ListDir = (dir: string) => Array<{ name: string; dir: boolean }>;

function listDir(dir: string): Array<{ name: string; dir: boolean }> {
  try {
    return readdirSync(dir, { withFileTypes: true }).map((e) => ({ name: e.name, dir: e.isDirectory() }));
  } catch {
    return [];
  }
}

/**
 * A readline completer: `(line) → [candidates, the text they replace]`.
 * `program` gives the options of each command (a session program built
 * with {@link buildSessionProgram}).
 */
export function makeCompleter(program: () => Command, opts: { cwd?: () => string; list?: ListDir } = {}): (line: string) => [string[], string] {
  const list = opts.list ?? listDir;
  const cwd = opts.cwd ?? (() => process.cwd());
  return (line) => {
    const { start, word } = lastWord(line);
    const raw = line.slice(start);
    let before: string[];
    try {
      before = splitWords(line.slice(0, start));
    } catch {
      return [[], raw];
    }
    const pick = (words: readonly string[]) => {
      const hits = words.filter((w) => w.startsWith(word));
      return [hits.map((h) => `${h} `), raw] as [string[], string];
    };
    if (before.length === 0) return pick(COMMAND_WORDS);
    if (before[0] === "help") return pick(before.length === 1 ? COMMAND_WORDS : before[1] === "share" && before.length === 2 ? SHARE_WORDS : []);
    if (before[0] === "share" && before.length === 1) return pick(SHARE_WORDS);
    if (word.startsWith("-")) {
      const path = before[0] === "share" ? ["share", before[1]] : [before[0]];
      let cmd: Command | undefined = program();
      for (const w of path) cmd = cmd?.commands.find((c) => c.name() === w || c.aliases().includes(w));
      if (!cmd) return [[], raw];
      const flags = cmd.options.filter((o) => !o.hidden && o.long).map((o) => o.long!);
      return pick([...flags, "--help"]);
    }
    const takesPaths = (before[0] === "send" && before.length >= 2) || (before[0] === "share" && before[1] === "put") ||
      (before[0] === "share" && before[1] === "get" && before.at(-1) === "--dir");
    if (!takesPaths) return [[], raw];
    return [completePath(word, cwd(), list), raw];
  };
}

/**
 * File-name candidates for `word` (relative to `cwd`, `~/` for home),
 * quoted when they need it: after the `~/`, which a quote would keep from
 * meaning home.
 */
export function completePath(word: string, cwd: string, list: ListDir): string[] {
  if (word === "~") return ["~/"];
  const slash = word.lastIndexOf("/");
  const dirPart = slash >= 0 ? word.slice(0, slash + 1) : "";
  const base = slash >= 0 ? word.slice(slash + 1) : word;
  const dirPath = dirPart.startsWith("~/") ? join(homedir(), dirPart.slice(2)) : dirPart.startsWith("/") ? dirPart || "/" : join(cwd, dirPart);
  const entries = list(dirPath)
    .filter((e) => e.name.startsWith(base) && (base.startsWith(".") || !e.name.startsWith(".")))
    .sort((a, b) => a.name.localeCompare(b.name));
  const home = dirPart.startsWith("~/") ? "~/" : "";
  return entries.map((e) => {
    const full = dirPart + e.name + (e.dir ? "/" : "");
    const quoted = home + quoteWord(full.slice(home.length));
    // A directory stays open for more typing; a file ends the word.
    return e.dir ? quoted.replace(/"$/, "") : `${quoted} `;
  });
}
