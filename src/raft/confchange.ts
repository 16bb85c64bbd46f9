/**
 * Membership changes by joint consensus (etcd's confchange, simplified).
 *
 * A ConfChange is a list of operations on the incoming voters and the learners.
 * If the voter set changes, the result is the joint configuration
 * C_old,new (`voters` = C_new, `votersOutgoing` = C_old, `autoLeave`): every
 * quorum needs a majority of both until the leader appends the empty change
 * ("leave joint"), which makes C_new alone effective. A change that only adds or
 * removes learners takes effect directly (learners never count in a quorum).
 *
 * Pure functions. `applyConfChange` never throws on a change that is invalid for
 * the configuration it meets (it returns the configuration unchanged), so every
 * replica that applies the same log reaches the same membership.
 *
 * Wire format (entry data of type 'conf'): byte 0 = version (1), bytes 1..2 =
 * count (u16 BE), then per change: op (u8: 1 add-voter, 2 add-learner, 3 remove)
 * and node (u32 BE).
 */
import type { ConfChange, ConfChangeItem, ConfChangeOp, ConfState, NodeId } from './types.js';

const VERSION = 1;
const OP_CODES: Record<ConfChangeOp, number> = { 'add-voter': 1, 'add-learner': 2, remove: 3 };
const OPS: readonly (ConfChangeOp | undefined)[] = [undefined, 'add-voter', 'add-learner', 'remove'];

/** The "leave the joint configuration" change. */
export const LEAVE_JOINT: ConfChange = { changes: [] };

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const n = cc.changes.length;
  if (n > 0xffff) throw new Error('confchange: too many changes');
  const out = new Uint8Array(3 + 5 * n);
  const view = new DataView(out.buffer);
  out[0] = VERSION;
  view.setUint16(1, n);
  let off = 3;
  for (const c of cc.changes) {
    if (!Number.isInteger(c.node) || c.node <= 0 || c.node > 0xffffffff) throw new Error(`confchange: bad node id ${c.node}`);
    out[off] = OP_CODES[c.op];
    view.setUint32(off + 1, c.node);
    off += 5;
  }
  return out;
}

/** Decodes an entry's data; throws on malformed input. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  if (data.byteLength < 3 || data[0] !== VERSION) throw new Error('confchange: bad header');
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const n = view.getUint16(1);
  if (data.byteLength !== 3 + 5 * n) throw new Error('confchange: bad length');
  const changes: ConfChangeItem[] = [];
  for (let i = 0, off = 3; i < n; i++, off += 5) {
    const op = OPS[data[off] ?? 0];
    if (!op) throw new Error(`confchange: bad op ${data[off] ?? 0}`);
    changes.push({ op, node: view.getUint32(off + 1) });
  }
  return { changes };
}

export function isJoint(conf: ConfState): boolean {
  return (conf.votersOutgoing?.length ?? 0) > 0;
}

/** Every node that receives the log: voters of both halves and learners. */
export function members(conf: ConfState): NodeId[] {
  const s = new Set<NodeId>(conf.voters);
  for (const id of conf.votersOutgoing ?? []) s.add(id);
  for (const id of conf.learners) s.add(id);
  return [...s];
}

/** Voter in either half of the configuration. */
export function isVoter(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id) || (conf.votersOutgoing ?? []).includes(id);
}

/** Why `cc` cannot be applied to `conf`, or null when it can. */
export function validateConfChange(conf: ConfState, cc: ConfChange): string | null {
  if (cc.changes.length === 0) return isJoint(conf) ? null : 'not in a joint configuration';
  if (isJoint(conf)) return 'in a joint configuration: leave it first';
  const voters = new Set(conf.voters);
  const learners = new Set(conf.learners);
  const seen = new Set<NodeId>();
  for (const c of cc.changes) {
    if (!Number.isInteger(c.node) || c.node <= 0) return `bad node id ${c.node}`;
    if (seen.has(c.node)) return `node ${c.node} changed twice`;
    seen.add(c.node);
    switch (c.op) {
      case 'add-voter':
        learners.delete(c.node);
        voters.add(c.node);
        break;
      case 'add-learner':
        if (voters.has(c.node)) return `node ${c.node} is a voter (demotion is not supported)`;
        learners.add(c.node);
        break;
      case 'remove':
        if (!voters.has(c.node) && !learners.has(c.node)) return `node ${c.node} is not a member`;
        voters.delete(c.node);
        learners.delete(c.node);
        break;
    }
  }
  if (voters.size === 0) return 'no voters left';
  return null;
}

/** The configuration after `cc` (unchanged if `cc` is invalid for `conf`). */
export function applyConfChange(conf: ConfState, cc: ConfChange): ConfState {
  if (validateConfChange(conf, cc) !== null) return conf;
  if (cc.changes.length === 0) {
    // Leave joint: C_new alone.
    return { voters: [...conf.voters], learners: [...conf.learners] };
  }
  const voters = [...conf.voters];
  const learners = [...conf.learners];
  const drop = (list: NodeId[], id: NodeId): void => {
    const i = list.indexOf(id);
    if (i >= 0) list.splice(i, 1);
  };
  for (const c of cc.changes) {
    switch (c.op) {
      case 'add-voter':
        drop(learners, c.node);
        if (!voters.includes(c.node)) voters.push(c.node);
        break;
      case 'add-learner':
        if (!learners.includes(c.node)) learners.push(c.node);
        break;
      case 'remove':
        drop(voters, c.node);
        drop(learners, c.node);
        break;
    }
  }
  if (sameSet(voters, conf.voters)) return { voters, learners };
  return { voters, learners, votersOutgoing: [...conf.voters], autoLeave: true };
}

function sameSet(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  if (a.length !== b.length) return false;
  for (const x of a) if (!b.includes(x)) return false;
  return true;
}

/** Two configurations with the same members in the same roles. */
export function sameConf(a: ConfState, b: ConfState): boolean {
  return (
    sameSet(a.voters, b.voters) &&
    sameSet(a.learners, b.learners) &&
    sameSet(a.votersOutgoing ?? [], b.votersOutgoing ?? []) &&
    (a.autoLeave ?? false) === (b.autoLeave ?? false)
  );
}

/** Replays the 'conf' entries' data in order onto `conf` (restart from a snapshot). */
export function replayConfChanges(conf: ConfState, datas: readonly Uint8Array[]): ConfState {
  let c = conf;
  for (const d of datas) {
    let cc: ConfChange;
    try {
      cc = decodeConfChange(d);
    } catch {
      continue; // a malformed conf entry is a no-op everywhere
    }
    c = applyConfChange(c, cc);
  }
  return c;
}
