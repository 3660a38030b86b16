// What an operation that changes the host did: it ran ('done'), or, in a dry run, it did not and
// says what would have run (Would). The runtime port and the host-writes port both answer so:
// a caller handles a dry run by the answer it gets, not by asking whether this is one.

// What a dry run did instead of a change: nothing; `would` says what (a command line, a write), printed already.
export interface Would {
  readonly would: string;
}

// What an operation that changes something did: it ran ('done'), or, in a dry run, it did not (Would).
export type Effect = 'done' | Would;

// True when the answer is a dry run's: nothing was changed.
export function isWould(value: unknown): value is Would {
  return typeof value === 'object' && value !== null && typeof (value as { would?: unknown }).would === 'string';
}
