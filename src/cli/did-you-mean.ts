// "Did you mean …?": the known words nearest to a mistyped one. Pure.

// Optimal string alignment distance (Levenshtein plus swapping two neighbours).
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (rows[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = rows[i] as number[];
      const above = rows[i - 1] as number[];
      row[j] = Math.min((above[j] as number) + 1, (row[j - 1] as number) + 1, (above[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j] as number, ((rows[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (rows[a.length] as number[])[b.length] as number;
}

// The candidates closest to `word` (at most a third of its letters off, and 3), best first; a
// candidate that starts with the word counts as close too ("stat" → "status").
export function nearestWords(word: string, candidates: readonly string[]): string[] {
  const typed = word.toLowerCase();
  const limit = Math.min(3, Math.max(1, Math.floor(typed.length / 3)));
  const scored = [...new Set(candidates)]
    .map((candidate) => ({ candidate, distance: candidate.startsWith(typed) && typed.length >= 2 ? 0.5 : editDistance(typed, candidate.toLowerCase()) }))
    .filter(({ distance }) => distance <= limit);
  const best = Math.min(...scored.map(({ distance }) => distance));
  return scored.filter(({ distance }) => distance === best).map(({ candidate }) => candidate).sort();
}

// " (did you mean status?)", or "" when nothing is close.
export function didYouMean(word: string, candidates: readonly string[]): string {
  const near = nearestWords(word, candidates);
  return near.length === 0 ? '' : ` (did you mean ${near.join(' or ')}?)`;
}
