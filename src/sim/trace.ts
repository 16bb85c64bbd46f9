/**
 * A ring buffer of the last events of a run, formatted only when a report
 * needs them (recording a delivered message costs no string building).
 */
import type { Message } from '../raft/types.js';

interface Slot {
  tick: number;
  msg: Message | null;
  text: string | null;
}

export function formatMessage(m: Message): string {
  const head = `n${m.from}->n${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case 'vote':
    case 'pre-vote':
      return `${head} last=${m.index}/${m.logTerm}${m.transfer ? ' transfer' : ''}`;
    case 'vote-resp':
    case 'pre-vote-resp':
      return `${head}${m.reject ? ' REJECT' : ' granted'}`;
    case 'app':
      return `${head} prev=${m.index}/${m.logTerm} n=${m.entries.length}${m.entries.length > 0 ? ` [${m.entries[0]!.index}..${m.entries[m.entries.length - 1]!.index}]` : ''} commit=${m.commit}`;
    case 'app-resp':
      return `${head} index=${m.index}${m.reject ? ` REJECT hint=${m.rejectHint}/${m.logTerm}` : ''}`;
    case 'heartbeat':
      return `${head} commit=${m.commit}${m.context ? ` ctx=${m.context}` : ''}`;
    case 'heartbeat-resp':
      return `${head}${m.context ? ` ctx=${m.context}` : ''}`;
    case 'read-index':
      return `${head} ctx=${m.context}`;
    case 'read-index-resp':
      return `${head} ctx=${m.context} index=${m.index}`;
    case 'timeout-now':
      return head;
    case 'snap':
      return `${head} snapshot=${m.snapshot.metadata.index}/${m.snapshot.metadata.term}`;
  }
}

export class Trace {
  private readonly slots: Slot[];
  private next = 0;
  private count = 0;

  constructor(readonly size: number) {
    this.slots = Array.from({ length: Math.max(1, size) }, () => ({ tick: 0, msg: null, text: null }));
  }

  private slot(tick: number): Slot {
    const s = this.slots[this.next]!;
    this.next = (this.next + 1) % this.slots.length;
    if (this.count < this.slots.length) this.count++;
    s.tick = tick;
    return s;
  }

  message(tick: number, m: Message): void {
    const s = this.slot(tick);
    s.msg = m;
    s.text = null;
  }

  text(tick: number, text: string): void {
    const s = this.slot(tick);
    s.msg = null;
    s.text = text;
  }

  /** Oldest first. */
  lines(): string[] {
    const out: string[] = [];
    const n = this.slots.length;
    for (let i = 0; i < this.count; i++) {
      const s = this.slots[(this.next - this.count + i + n) % n]!;
      out.push(`t=${s.tick} ${s.msg !== null ? formatMessage(s.msg) : (s.text ?? '')}`);
    }
    return out;
  }
}
