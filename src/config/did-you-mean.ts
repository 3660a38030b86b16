// "Did you mean …?": the nearest of the known names to a misspelled one, by edit distance.

// The Damerau–Levenshtein distance (optimal string alignment) between two strings.
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i += 1) {
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i] as number[];
      const above = d[i - 1] as number[];
      row[j] = Math.min((above[j] as number) + 1, (row[j - 1] as number) + 1, (above[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

// The known name nearest to `word` (case ignored), if one is near enough to be a slip: at most a
// third of its length away (and at least one edit), or `word` is a prefix of it or it of `word`.
export function closest(word: string, known: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const candidate = name.toLowerCase();
    const distance = editDistance(lower, candidate);
    const near = distance <= Math.max(1, Math.floor(Math.max(lower.length, candidate.length) / 3))
      || (lower.length >= 4 && (candidate.startsWith(lower) || lower.startsWith(candidate)));
    if (near && (best === undefined || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}
