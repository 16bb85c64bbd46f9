/**
 * Small field checkers shared by the command codec, the snapshot decoder and
 * the wire-map parser. Each failure names the offending field by its path.
 */

/** Malformed meta data (command, snapshot or wire map); `field` is the path of the bad field. */
export class MetaFormatError extends Error {
  override readonly name = 'MetaFormatError';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

export function fail(field: string, reason: string): never {
  throw new MetaFormatError(field, reason);
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function record(x: unknown, field: string): Record<string, unknown> {
  if (!isRecord(x)) fail(field, 'must be an object');
  return x;
}

export function array(x: unknown, field: string, max = 1 << 20): unknown[] {
  if (!Array.isArray(x)) fail(field, 'must be an array');
  if (x.length > max) fail(field, `must have at most ${max} items`);
  return x;
}

/** Non-negative safe integer. */
export function nat(x: unknown, field: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) fail(field, `must be a non-negative integer, got ${show(x)}`);
  return x;
}

export function intIn(x: unknown, field: string, min: number, max: number): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min || x > max) {
    fail(field, `must be an integer in [${min}, ${max}], got ${show(x)}`);
  }
  return x;
}

export function u32(x: unknown, field: string): number {
  return intIn(x, field, 0, 0xffffffff);
}

export function nodeId(x: unknown, field: string): number {
  return intIn(x, field, 1, 0xffffffff);
}

export function port(x: unknown, field: string): number {
  return intIn(x, field, 1, 65535);
}

export function str(x: unknown, field: string, maxLength = 255): string {
  if (typeof x !== 'string') fail(field, `must be a string, got ${show(x)}`);
  if (x.length > maxLength) fail(field, `must be at most ${maxLength} characters`);
  return x;
}

export function bool(x: unknown, field: string): boolean {
  if (typeof x !== 'boolean') fail(field, `must be a boolean, got ${show(x)}`);
  return x;
}

export function oneOf<T extends string>(x: unknown, field: string, values: readonly T[]): T {
  if (typeof x !== 'string' || !(values as readonly string[]).includes(x)) {
    fail(field, `must be one of ${values.join(', ')}, got ${show(x)}`);
  }
  return x as T;
}

/** Fails unless `obj` has only the listed keys. */
export function onlyKeys(obj: Record<string, unknown>, field: string, keys: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (!keys.includes(k)) fail(field === '' ? k : `${field}.${k}`, 'unknown field');
  }
}

export function at(field: string, key: string | number): string {
  if (typeof key === 'number') return `${field}[${key}]`;
  return field === '' ? key : `${field}.${key}`;
}

function show(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}…` : x);
  if (x === undefined) return 'nothing';
  try {
    const s = JSON.stringify(x);
    return s === undefined ? String(x) : s.length > 40 ? `${s.slice(0, 40)}…` : s;
  } catch {
    return typeof x;
  }
}
