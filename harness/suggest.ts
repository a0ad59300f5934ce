/**
 * "Did you mean …?" for misspelt names (profile fields, environment variables). No dependency:
 * the only edit-distance package in node_modules (fast-levenshtein) comes in through ESLint, a dev
 * dependency, so it is not there when the tool is installed for use.
 */

/** Levenshtein distance (insert, delete, substitute), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      const sub = (prev[j - 1] ?? 0) + (x[i - 1] === y[j - 1] ? 0 : 1);
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, sub));
    }
    prev = cur;
  }
  return prev[y.length] ?? 0;
}

/**
 * The known name closest to `word`, if it is close enough to be a slip of the keyboard: a name it
 * abbreviates (`mem` for `memory`, at least 3 letters), or one where at most a third of the
 * word's letters (and at least 2) differ. Words longer than 100 characters are not compared
 * (nobody misspells a field that long; it also bounds the work).
 */
export function closest(word: string, known: readonly string[]): string | undefined {
  if (word.length > 100) return undefined;
  if (word.length >= 3) {
    const lower = word.toLowerCase();
    const abbreviated = known
      .filter((k) => k.length > word.length && k.toLowerCase().startsWith(lower))
      .sort((a, b) => a.length - b.length)[0];
    if (abbreviated !== undefined) return abbreviated;
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(word, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return bestDistance <= limit ? best : undefined;
}
