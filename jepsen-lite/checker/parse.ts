/** Reads a JSON Lines history, validating every event. */
import type { EventType, HistoryEvent, OpFunction, OpValue, RegisterValue } from '../history.js';
import { HistoryError } from './operations.js';

const EVENT_TYPES: ReadonlySet<string> = new Set<EventType>(['invoke', 'ok', 'fail', 'info']);
const FUNCTIONS: ReadonlySet<string> = new Set<OpFunction>(['get', 'put', 'cas']);

function isRegisterValue(v: unknown): v is RegisterValue {
  return v === null || typeof v === 'string';
}

/** Parses one event; throws an Error saying what is wrong (without the line number). */
function parseEvent(raw: unknown): HistoryEvent {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('not a JSON object');
  const o = raw as Record<string, unknown>;
  const { process, type, f, key, time } = o;
  if (typeof process !== 'number' || !Number.isInteger(process)) throw new Error('"process" must be an integer');
  if (typeof type !== 'string' || !EVENT_TYPES.has(type)) throw new Error('"type" must be one of invoke, ok, fail, info');
  if (typeof f !== 'string' || !FUNCTIONS.has(f)) throw new Error('"f" must be one of get, put, cas');
  if (typeof key !== 'string') throw new Error('"key" must be a string');
  if (typeof time !== 'number' || !Number.isFinite(time)) throw new Error('"time" must be a finite number');
  const v = o['value'] === undefined ? null : o['value'];
  let value: OpValue;
  if (f === 'cas') {
    if (!Array.isArray(v) || v.length !== 2 || !isRegisterValue(v[0]) || !isRegisterValue(v[1])) {
      throw new Error('a cas "value" must be [expected, new] with string or null elements');
    }
    value = [v[0], v[1]];
  } else {
    if (!isRegisterValue(v)) throw new Error(`a ${f} "value" must be a string or null`);
    value = v;
  }
  return { process, type: type as EventType, f: f as OpFunction, key, value, time };
}

/** One event per non-blank line. Throws HistoryError naming the (1-based) line on the first bad one. */
export function parseHistoryJsonl(text: string): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (e) {
      throw new HistoryError(`line ${i + 1}: invalid JSON (${(e as Error).message})`);
    }
    try {
      events.push(parseEvent(raw));
    } catch (e) {
      throw new HistoryError(`line ${i + 1}: ${(e as Error).message}`);
    }
  }
  return events;
}

/** The inverse of parseHistoryJsonl. */
export function formatHistoryJsonl(events: readonly HistoryEvent[]): string {
  return events.map((e) => JSON.stringify({ process: e.process, type: e.type, f: e.f, key: e.key, value: e.value, time: e.time })).join('\n') + '\n';
}
