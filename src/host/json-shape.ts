// Checks of JSON read from disk, field by field, into the types kvc uses: a reader names the
// first field that is wrong (ShapeError) instead of casting what it never looked at.

// A field of a JSON document that is missing or of the wrong type.
export class ShapeError extends Error {
  constructor(readonly field: string, readonly expected: string) {
    super(`${field}: expected ${expected}`);
    this.name = 'ShapeError';
  }
}

// A JSON object's fields, read one by one with the field's path for errors.
export class Fields {
  private readonly record: Readonly<Record<string, unknown>>;

  constructor(value: unknown, private readonly path = '') {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ShapeError(path || '(the document)', 'an object');
    this.record = value as Record<string, unknown>;
  }

  private at(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  // A string field.
  string(key: string): string {
    const value = this.record[key];
    if (typeof value !== 'string') throw new ShapeError(this.at(key), 'a string');
    return value;
  }

  // A string field, or null.
  stringOrNull(key: string): string | null {
    return this.record[key] === null ? null : this.string(key);
  }

  // A string field that may be left out.
  optionalString(key: string): string | undefined {
    return this.record[key] === undefined ? undefined : this.string(key);
  }

  // One of `choices`.
  oneOf<T extends string>(key: string, choices: readonly T[]): T {
    const value = this.string(key);
    if (!(choices as readonly string[]).includes(value)) throw new ShapeError(this.at(key), `one of ${choices.join(', ')}`);
    return value as T;
  }

  // An integer field.
  integer(key: string): number {
    const value = this.record[key];
    if (typeof value !== 'number' || !Number.isInteger(value)) throw new ShapeError(this.at(key), 'an integer');
    return value;
  }

  // An integer field, or null.
  integerOrNull(key: string): number | null {
    return this.record[key] === null ? null : this.integer(key);
  }

  // An integer field that may be left out.
  optionalInteger(key: string): number | undefined {
    return this.record[key] === undefined ? undefined : this.integer(key);
  }

  // A boolean field.
  boolean(key: string): boolean {
    const value = this.record[key];
    if (typeof value !== 'boolean') throw new ShapeError(this.at(key), 'true or false');
    return value;
  }

  // An array field, each element read by `item` (given the element's Fields when it is an object).
  array<T>(key: string, item: (value: unknown, path: string) => T): T[] {
    const value = this.record[key];
    if (!Array.isArray(value)) throw new ShapeError(this.at(key), 'an array');
    return value.map((element, index) => item(element, `${this.at(key)}[${index}]`));
  }

  // An object field read by `item`, or null; left out (as an older writer does) is null too.
  objectOrNull<T>(key: string, item: (value: unknown, path: string) => T): T | null {
    const value = this.record[key];
    return value === null || value === undefined ? null : item(value, this.at(key));
  }
}

// An array element that must be a string.
export function stringItem(value: unknown, path: string): string {
  if (typeof value !== 'string') throw new ShapeError(path, 'a string');
  return value;
}
