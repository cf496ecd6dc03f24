/**
 * `word` as one POSIX shell word, for a command sfx prints for the user to run: as it is when plain
 * (`10.0.0.5:6969`, `box`, `/srv/in`), else single-quoted (`'[::1]:6969'`: brackets glob; spaces split).
 */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}
