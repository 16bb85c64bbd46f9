/**
 * Node-level messages. The peer transport carries only (group, Raft message)
 * pairs, so a node-level message travels as a `read-index` message of the
 * pseudo group NODE_GROUP whose context holds a prefix and a payload; it never
 * reaches a Raft core. All of them are rare or tiny (one liveness beat per
 * node pair and tick), so a readable text payload costs nothing that matters.
 */
import { decodeMetaState, encodeMetaState } from '../meta/index.js';
import type { MetaState } from '../meta/index.js';
import type { Message, NodeId } from '../raft/index.js';
import type { ConfReport, ConfRequestOp } from './group-driver.js';

/** Pseudo group id of node-level messages. */
export const NODE_GROUP = 0xffffffff;

export type NodeMessage =
  /** Liveness beat: the sender's incarnation (changes on restart) and the map version it routes by. */
  | { readonly kind: 'alive'; readonly incarnation: string; readonly mapVersion: number }
  /** Follower → leader of `group`: keys its reads touched (they join the next touch entry). */
  | { readonly kind: 'touch'; readonly group: number; readonly keys: readonly string[] }
  /** Meta leader → a shard's replicas: one membership step (only the shard's leader acts). */
  | { readonly kind: 'conf-request'; readonly group: number; readonly op: ConfRequestOp; readonly node: NodeId }
  /** A shard's leader → the meta leader: the group's membership and leadership. */
  | { readonly kind: 'conf-report'; readonly report: ConfReport }
  /** Meta leader → a node whose map is older: the whole meta state. */
  | { readonly kind: 'map'; readonly state: MetaState }
  /** Meta leader → a shard's replicas: split the ring `ranges` off `group` into the new group `newGroup` (only the leader acts). */
  | { readonly kind: 'split-request'; readonly group: number; readonly newGroup: number; readonly ranges: readonly { start: number; end: number }[] };

const text = new TextDecoder();
const bytes = new TextEncoder();

export function encodeNodeMessage(from: NodeId, to: NodeId, msg: NodeMessage): Message {
  let context: string;
  switch (msg.kind) {
    case 'alive':
      context = `alive:${msg.incarnation}:${msg.mapVersion}`;
      break;
    case 'touch':
      context = 'touch:' + JSON.stringify({ group: msg.group, keys: msg.keys });
      break;
    case 'conf-request':
      context = 'cc:' + JSON.stringify({ group: msg.group, op: msg.op, node: msg.node });
      break;
    case 'conf-report':
      context = 'conf:' + JSON.stringify(msg.report);
      break;
    case 'map':
      context = 'map:' + text.decode(encodeMetaState(msg.state));
      break;
    case 'split-request':
      context = 'split:' + JSON.stringify({ group: msg.group, newGroup: msg.newGroup, ranges: msg.ranges });
      break;
  }
  return { type: 'read-index', from, to, term: 0, context };
}

const isNat = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const natList = (v: unknown): number[] | null => (Array.isArray(v) && v.every(isNat) ? (v as number[]) : null);
const CONF_OPS: ReadonlySet<string> = new Set<ConfRequestOp>(['add-learner', 'add-voter', 'remove', 'transfer']);

/** Decodes a NODE_GROUP message; null for anything malformed (a peer of another version, a bug): dropped. */
export function decodeNodeMessage(m: Message): NodeMessage | null {
  if (m.type !== 'read-index') return null;
  const c = m.context;
  const colon = c.indexOf(':');
  if (colon < 0) return null;
  const prefix = c.slice(0, colon);
  const body = c.slice(colon + 1);
  try {
    switch (prefix) {
      case 'alive': {
        const at = body.lastIndexOf(':');
        const incarnation = at < 0 ? body : body.slice(0, at);
        const v = at < 0 ? 0 : Number(body.slice(at + 1));
        return { kind: 'alive', incarnation, mapVersion: isNat(v) ? v : 0 };
      }
      case 'touch': {
        const o = JSON.parse(body) as { group?: unknown; keys?: unknown };
        if (!isNat(o.group) || !Array.isArray(o.keys)) return null;
        return { kind: 'touch', group: o.group, keys: o.keys.filter((k): k is string => typeof k === 'string') };
      }
      case 'cc': {
        const o = JSON.parse(body) as { group?: unknown; op?: unknown; node?: unknown };
        if (!isNat(o.group) || typeof o.op !== 'string' || !CONF_OPS.has(o.op) || !isNat(o.node)) return null;
        return { kind: 'conf-request', group: o.group, op: o.op as ConfRequestOp, node: o.node };
      }
      case 'conf': {
        const o = JSON.parse(body) as Record<string, unknown>;
        const voters = natList(o['voters']);
        const learners = natList(o['learners']);
        if (!isNat(o['group']) || !isNat(o['leader']) || !isNat(o['term']) || voters === null || learners === null) return null;
        return {
          kind: 'conf-report',
          report: {
            group: o['group'],
            leader: o['leader'],
            term: o['term'],
            voters,
            learners,
            joint: o['joint'] === true,
            opsPerSec: isNat(o['opsPerSec']) ? o['opsPerSec'] : 0,
          },
        };
      }
      case 'map':
        return { kind: 'map', state: decodeMetaState(bytes.encode(body)) };
      case 'split': {
        const o = JSON.parse(body) as { group?: unknown; newGroup?: unknown; ranges?: unknown };
        if (!isNat(o.group) || !isNat(o.newGroup) || !Array.isArray(o.ranges)) return null;
        const ranges: { start: number; end: number }[] = [];
        for (const r of o.ranges as unknown[]) {
          const x = r as { start?: unknown; end?: unknown };
          if (!isNat(x.start) || !isNat(x.end)) return null;
          ranges.push({ start: x.start, end: x.end });
        }
        return { kind: 'split-request', group: o.group, newGroup: o.newGroup, ranges };
      }
      default:
        return null;
    }
  } catch {
    return null;
  }
}
