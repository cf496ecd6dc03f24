/**
 * Splits a line typed at the `sfx client` prompt into words, as a shell
 * would for the simple cases people type: spaces separate words, single
 * and double quotes keep spaces (`send 482913 "my file.txt"`), a
 * backslash escapes the next character, an unquoted `~` or `~/` at the
 * start of a word is the home directory. No variables, globs or pipes.
 *
 * @module
 */
import { SfxError } from "../../errors.ts";

/**
 * The words of `line`; throws SFX_USAGE for an unclosed quote. With
 * `home`, a word that starts with an unquoted `~` followed by `/` or its
 * end starts with `home` instead, as in a shell (`"~"`, `\~` and `~user`
 * stay as typed); without, `~` is kept (completion shows what was typed).
 */
export function splitWords(line: string, home?: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < line.length && (line[i + 1] === '"' || line[i + 1] === "\\")) word += line[++i];
      else word += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (c === "~" && !inWord && home !== undefined && /^(\/|[ \t]|$)/.test(line.slice(i + 1, i + 2))) {
      word = home;
      inWord = true;
    } else if (c === " " || c === "\t") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new SfxError("SFX_USAGE", `Unclosed ${quote === '"' ? "double" : "single"} quote`);
  if (inWord) words.push(word);
  return words;
}

/** Quotes `word` for the prompt when it needs it (completion of names with spaces). */
export function quoteWord(word: string): string {
  if (word !== "" && !/[\s'"\\]/.test(word)) return word;
  return `"${word.replace(/(["\\])/g, "\\$1")}"`;
}

/** The start of the last word of `line` (where completion replaces text), and that word unquoted. */
export function lastWord(line: string): { start: number; word: string } {
  let start = 0;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"') i++;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === "\\") {
      i++;
    } else if (c === " " || c === "\t") {
      start = i + 1;
    }
  }
  const raw = line.slice(start);
  let word: string;
  try {
    word = splitWords(raw)[0] ?? "";
  } catch {
    word = splitWords(raw + (raw.includes('"') ? '"' : "'"))[0] ?? "";
  }
  return { start, word };
}
