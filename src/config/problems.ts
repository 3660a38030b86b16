// Collects the faults of a configuration file so that all of them are reported at once, each on
// its own line with the file's line number where kvc knows it.
import { ConfigError, ConfigErrors } from '../errors.js';

// A collector: checks run through attempt(); throwIfAny() reports everything they found.
export class ConfigProblems {
  private readonly found: ConfigError[] = [];

  // `lineOf` places a fault that names a key but no line at that key's line.
  constructor(private readonly lineOf: (key: string) => number | undefined = () => undefined) {}

  // Records a fault (each of an aggregate's).
  add(error: ConfigError): void {
    for (const one of error instanceof ConfigErrors ? error.errors : [error]) {
      const line = one.line ?? (one.key === undefined ? undefined : this.lineOf(one.key));
      this.found.push(line === undefined || one.line !== undefined ? one : one.atLine(line));
    }
  }

  // Runs a check: its value, or undefined when it threw a ConfigError (recorded; others propagate).
  attempt<T>(check: () => T): T | undefined {
    try {
      return check();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      this.add(error);
      return undefined;
    }
  }

  // Whether any fault was recorded.
  get any(): boolean {
    return this.found.length > 0;
  }

  // The faults recorded so far, file by file (in the order first met), each file's by line (those
  // without a line last).
  list(): ConfigError[] {
    const files = [...new Set(this.found.map((error) => error.file))];
    const rank = (error: ConfigError): [number, number] => [files.indexOf(error.file), error.line ?? Infinity];
    return [...this.found].sort((a, b) => rank(a)[0] - rank(b)[0] || rank(a)[1] - rank(b)[1]);
  }

  // Throws the one fault, or all of them as a ConfigErrors; returns when there is none.
  throwIfAny(): void {
    const all = this.list();
    if (all.length === 1) throw all[0];
    if (all.length > 1) throw new ConfigErrors(all);
  }
}
