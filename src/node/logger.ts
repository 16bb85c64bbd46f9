/**
 * Logging through pino: JSON lines by default; `pretty` turns each line into
 * "12:00:01.234 INFO  n1 message key=value" (a tiny formatter, no pino-pretty).
 */
import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';

export type { Logger } from 'pino';
export type LogFormat = 'json' | 'pretty';

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'node']);

function pad2(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** Formats one pino JSON line for humans; returns it unchanged if it is not JSON. */
export function prettyLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const t = new Date(typeof o['time'] === 'number' ? o['time'] : 0);
  const time = `${pad2(t.getHours())}:${pad2(t.getMinutes())}:${pad2(t.getSeconds())}.${pad2(t.getMilliseconds(), 3)}`;
  const level = (LEVEL_NAMES[Number(o['level'])] ?? String(o['level'])).padEnd(5);
  const node = typeof o['node'] === 'string' ? `${o['node']} ` : '';
  const rest: string[] = [];
  for (const [k, v] of Object.entries(o)) {
    if (SKIP.has(k)) continue;
    rest.push(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  return `${time} ${level} ${node}${String(o['msg'] ?? '')}${rest.length > 0 ? ` ${rest.join(' ')}` : ''}\n`;
}

function prettyDestination(out: NodeJS.WritableStream): DestinationStream {
  return {
    write(chunk: string): void {
      for (const line of chunk.split('\n')) if (line !== '') out.write(prettyLine(line));
    },
  };
}

export interface LoggerOptions {
  readonly format: LogFormat;
  readonly level: string;
  /** Bound into every line (e.g. { node: 'n1' }). */
  readonly base?: Record<string, unknown>;
  /** Default: stdout. */
  readonly destination?: NodeJS.WritableStream;
}

export function createLogger(o: LoggerOptions): Logger {
  const out = o.destination ?? process.stdout;
  const dest: DestinationStream = o.format === 'pretty' ? prettyDestination(out) : { write: (s: string) => void out.write(s) };
  return pino({ level: o.level, base: { pid: process.pid, ...(o.base ?? {}) } }, dest);
}

/** A logger that writes nothing (tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
