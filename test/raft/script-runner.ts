/**
 * A tiny interpreter for interaction scripts in the style of etcd's datadriven
 * testdata. A script is a sequence of commands; a command whose output is not
 * empty is followed by `----` and the expected output, ending at a blank line:
 *
 *   nodes 1 2 3 prevote checkquorum
 *   campaign 1
 *   stabilize
 *   ----
 *   1->2 pre-vote term=1 last=0/0
 *   ...
 *
 * Lines starting with `#` are comments. Commands:
 *   nodes <ids…> [prevote] [checkquorum] [quiesce] [election=N] [heartbeat=N] [max-size=N]
 *         [max-inflight=N] [max-inflight-bytes=N] [max-uncommitted=N] [seed=N]
 *   campaign <id> | tick <id> [n] | tick-all [n] (each round ticks every node, then stabilizes quietly)
 *   stabilize | process-ready | deliver [from=N] [to=N] [type=T] | drop-queued [from=N] [to=N] [type=T]
 *   propose <id> <data> | read-index <id> <ctx> | transfer <from> <to>
 *   isolate <id> | partition <ids…> | <ids…> | cut <from> <to> | heal | crash <id> | restart <id> | compact <id>
 *   unquiesce <id> | forget-leader <id>
 *   status [ids…] (a quiesced node shows ` quiesced`) | progress <id> | reads <id> | kv <id> | log <id> | queue
 *   add-node <id> [blank] (a new, empty node; blank: without the bootstrap membership) | conf-change <id> <op>:<node>… (op: add-voter, add-learner, remove;
 *   no ops = leave joint) | conf [ids…] (the membership each node uses)
 */
import type { ConfChangeItem, ConfChangeOp, ConfState, Message, NodeId } from '../../src/raft/index.js';
import { Network, bytes, formatEntry, formatMessage } from './network.js';
import type { NetworkOptions } from './network.js';

export interface ScriptStep {
  /** 1-based line of the command. */
  readonly line: number;
  readonly command: string;
  /** Expected output, or null when the script gives none (then the output must be empty). */
  readonly expected: string | null;
}

export function parseScript(text: string): ScriptStep[] {
  const lines = text.split('\n');
  const steps: ScriptStep[] = [];
  let i = 0;
  while (i < lines.length) {
    const raw = lines[i] ?? '';
    const line = raw.trim();
    i++;
    if (line === '' || line.startsWith('#')) continue;
    if (line === '----') throw new Error(`line ${i}: '----' without a command`);
    const cmdLine = i;
    let expected: string | null = null;
    if ((lines[i] ?? '').trim() === '----') {
      i++;
      const out: string[] = [];
      while (i < lines.length && (lines[i] ?? '').trim() !== '') {
        out.push((lines[i] ?? '').trimEnd());
        i++;
      }
      expected = out.join('\n');
    }
    steps.push({ line: cmdLine, command: line, expected });
  }
  return steps;
}

function num(s: string | undefined, what: string): number {
  const n = Number(s);
  if (s === undefined || !Number.isInteger(n)) throw new Error(`expected a number for ${what}, got ${String(s)}`);
  return n;
}

function keyValues(args: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq > 0) m.set(a.slice(0, eq), a.slice(eq + 1));
  }
  return m;
}

export class ScriptRunner {
  private net: Network | null = null;
  private trace: string[] = [];
  private quiet = false;

  private network(): Network {
    if (!this.net) throw new Error('no network: start with `nodes`');
    return this.net;
  }

  /** Runs one command and returns its output. */
  run(command: string): string {
    const [name, ...args] = command.split(/\s+/);
    this.trace = [];
    const out = this.exec(name ?? '', args);
    return [...this.trace, ...out].join('\n');
  }

  private exec(name: string, args: string[]): string[] {
    const id = (k = 0): NodeId => num(args[k], `${name} node id`);
    switch (name) {
      case 'nodes': {
        const kv = keyValues(args);
        const ids = args.filter((a) => /^\d+$/.test(a)).map(Number);
        const opt = (k: string): number | undefined => (kv.has(k) ? num(kv.get(k), k) : undefined);
        const opts: NetworkOptions = {
          preVote: args.includes('prevote'),
          checkQuorum: args.includes('checkquorum'),
          quiesce: args.includes('quiesce'),
          electionTick: opt('election'),
          heartbeatTick: opt('heartbeat'),
          maxSizePerMsg: opt('max-size'),
          maxInflightMsgs: opt('max-inflight'),
          maxInflightBytes: opt('max-inflight-bytes'),
          maxUncommittedBytes: opt('max-uncommitted'),
          seed: opt('seed'),
        };
        this.net = new Network(ids, opts);
        this.net.onEvent = (l) => {
          if (!this.quiet) this.trace.push(l);
        };
        return [];
      }
      case 'campaign':
        this.network().raw(id()).campaign();
        return [];
      case 'tick':
        this.network().tick(id(), args[1] ? num(args[1], 'ticks') : 1);
        return [];
      case 'tick-all': {
        this.quiet = true;
        try {
          this.network().tickAll(args[0] ? num(args[0], 'rounds') : 1);
        } finally {
          this.quiet = false;
        }
        return [];
      }
      case 'stabilize':
        this.network().stabilize();
        return [];
      case 'process-ready':
        this.network().processAll();
        return [];
      case 'deliver': {
        const kv = keyValues(args);
        this.network().deliver(this.filter(kv));
        return [];
      }
      case 'drop-queued': {
        const f = this.filter(keyValues(args));
        const net = this.network();
        const before = net.queue.length;
        net.queue = net.queue.filter(
          (m) =>
            !(
              (f.from === undefined || m.from === f.from) &&
              (f.to === undefined || m.to === f.to) &&
              (f.type === undefined || m.type === f.type)
            ),
        );
        return [`dropped ${before - net.queue.length}`];
      }
      case 'propose': {
        const r = this.network().raw(id()).propose(bytes(args[1] ?? ''));
        return [r.ok ? `ok index=${r.index} term=${r.term}` : `${r.reason} leader=${r.leader}`];
      }
      case 'read-index': {
        const r = this.network().raw(id()).readIndex(args[1] ?? '');
        return [r.ok ? 'ok' : `${r.reason} leader=${r.leader}`];
      }
      case 'transfer':
        this.network().raw(id()).transferLeadership(id(1));
        return [];
      case 'unquiesce':
        this.network().raw(id()).unquiesce();
        return [];
      case 'forget-leader':
        this.network().raw(id()).forgetLeader();
        return [];
      case 'isolate':
        this.network().isolate(id());
        return [];
      case 'partition': {
        const groups = args.join(' ').split('|').map((g) => g.trim().split(/\s+/).filter(Boolean).map(Number));
        this.network().partition(...groups);
        return [];
      }
      case 'cut':
        this.network().drop(id(), id(1));
        return [];
      case 'heal':
        this.network().heal();
        return [];
      case 'crash':
        this.network().crash(id());
        return [];
      case 'restart':
        this.network().restart(id());
        return [];
      case 'compact':
        this.network().compact(id());
        return [];
      case 'status': {
        const net = this.network();
        const ids = args.length > 0 ? args.map(Number) : [...net.ids];
        return ids.map((i) => {
          const s = net.status(i);
          const up = net.get(i).up ? '' : ' (down)';
          const quiet = s.quiesced === true ? ' quiesced' : '';
          return `${i}: ${s.role} term=${s.term} vote=${s.vote} lead=${s.leader} commit=${s.commit} applied=${s.applied} last=${s.lastIndex}${quiet}${up}`;
        });
      }
      case 'progress': {
        const s = this.network().status(id());
        if (!s.progress) return ['not leader'];
        return [...s.progress].map(
          ([pid, p]) => `${pid}: ${p.state} match=${p.match} next=${p.next} inflight=${p.inflightMsgs}/${p.inflightBytes}B`,
        );
      }
      case 'reads':
        return this.network()
          .get(id())
          .reads.map((r) => `${r.context} index=${r.index} applied=${r.applied} ${[...r.kv].map(([k, v]) => `${k}=${v}`).join(' ')}`.trimEnd());
      case 'kv':
        return [...this.network().get(id()).kv].sort().map(([k, v]) => `${k}=${v}`);
      case 'log':
        return [this.network().get(id()).storage.allEntries().map(formatEntry).join(' ')];
      case 'queue':
        return this.network().queue.map((m: Message) => formatMessage(m));
      case 'add-node':
        this.network().addNode(id(), args.includes('blank'));
        return [];
      case 'conf-change': {
        const changes: ConfChangeItem[] = args.slice(1).map((a) => {
          const [op, node] = a.split(':');
          if (op !== 'add-voter' && op !== 'add-learner' && op !== 'remove') throw new Error(`bad conf op ${a}`);
          return { op: op satisfies ConfChangeOp, node: num(node, 'conf node') };
        });
        const r = this.network().raw(id()).proposeConfChange({ changes });
        return [r.ok ? `ok index=${r.index} term=${r.term}` : `${r.reason} leader=${r.leader}`];
      }
      case 'conf': {
        const net = this.network();
        const ids = args.length > 0 ? args.map(Number) : [...net.ids];
        return ids.map((i) => `${i}: ${formatConf(net.raw(i).confState())}`);
      }
      default:
        throw new Error(`unknown command ${name}`);
    }
  }

  private filter(kv: Map<string, string>): { from?: NodeId; to?: NodeId; type?: Message['type'] } {
    const f: { from?: NodeId; to?: NodeId; type?: Message['type'] } = {};
    if (kv.has('from')) f.from = num(kv.get('from'), 'from');
    if (kv.has('to')) f.to = num(kv.get('to'), 'to');
    if (kv.has('type')) f.type = kv.get('type') as Message['type'];
    return f;
  }
}

export interface StepResult extends ScriptStep {
  readonly actual: string;
}

/** Runs a whole script; returns every step with its actual output. */
export function runScript(text: string): StepResult[] {
  const runner = new ScriptRunner();
  return parseScript(text).map((s) => {
    let actual: string;
    try {
      actual = runner.run(s.command);
    } catch (err) {
      actual = `error: ${err instanceof Error ? err.message : String(err)}`;
    }
    return { ...s, actual };
  });
}

/** The script text with every expected output replaced by the actual one (for REWRITE=1). */
export function rewriteScript(text: string, results: readonly StepResult[]): string {
  const lines = text.split('\n');
  const byLine = new Map(results.map((r) => [r.line, r]));
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const raw = lines[i] ?? '';
    i++;
    out.push(raw);
    const r = byLine.get(i);
    if (!r) continue;
    if ((lines[i] ?? '').trim() === '----') {
      i++;
      while (i < lines.length && (lines[i] ?? '').trim() !== '') i++;
    }
    if (r.actual !== '') {
      out.push('----', ...r.actual.split('\n'));
      if (i < lines.length && (lines[i] ?? '').trim() !== '') out.push('');
    }
  }
  return out.join('\n');
}

export function formatConf(c: ConfState): string {
  const out = c.votersOutgoing && c.votersOutgoing.length > 0 ? ` && (${c.votersOutgoing.join(' ')})` : '';
  const learners = c.learners.length > 0 ? ` learners=(${c.learners.join(' ')})` : '';
  const auto = c.autoLeave ? ' autoleave' : '';
  return `voters=(${c.voters.join(' ')})${out}${learners}${auto}`;
}
