/**
 * A joining node announces itself (`raftcache start --join`): it sends the
 * client op `join` with its address to the running nodes it was given, and
 * follows NOT_LEADER to the meta leader. Resolves with the map version once the
 * meta group has registered it; rejects when no node accepted it this round
 * (the node retries on its own schedule).
 */
import WebSocket from 'ws';
import type { NodeAddress } from '../meta/index.js';

interface JoinReply {
  readonly ok?: boolean;
  readonly version?: number;
  readonly error?: { readonly code?: string; readonly message?: string; readonly leaderUrl?: string | null };
}

function requestOnce(url: string, frames: readonly object[], timeoutMs: number): Promise<JoinReply> {
  return new Promise<JoinReply>((resolve, reject) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`${url}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const last = frames.length;
    ws.on('open', () => {
      for (const f of frames) ws.send(JSON.stringify(f));
    });
    ws.on('message', (data) => {
      let reply: JoinReply & { id?: unknown };
      try {
        reply = JSON.parse(String(data)) as JoinReply & { id?: unknown };
      } catch {
        return;
      }
      if (reply.id !== last) return;
      clearTimeout(timer);
      ws.close();
      resolve(reply);
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export async function announceJoin(seeds: readonly string[], self: NodeAddress, token: string | undefined, timeoutMs: number): Promise<number> {
  const frames: object[] = [];
  if (token !== undefined) frames.push({ id: 1, op: 'hello', token });
  frames.push({ id: frames.length + 1, op: 'join', node: self });
  const tried = new Set<string>();
  const queue = [...seeds];
  let lastError = 'no seed to ask';
  while (queue.length > 0 && tried.size < seeds.length + 3) {
    const url = queue.shift() as string;
    if (tried.has(url)) continue;
    tried.add(url);
    try {
      const r = await requestOnce(url, frames, timeoutMs);
      if (r.ok === true && typeof r.version === 'number') return r.version;
      lastError = `${url}: ${r.error?.code ?? 'error'}: ${r.error?.message ?? ''}`;
      if (r.error?.code === 'NOT_LEADER' && typeof r.error.leaderUrl === 'string') queue.unshift(r.error.leaderUrl);
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    }
  }
  throw new Error(lastError);
}
