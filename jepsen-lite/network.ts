/**
 * The proxied network of a jepsen-lite cluster: one FaultProxy per pair of
 * nodes (i < j), in front of j's peer port, and the per-node `--members`
 * strings that send node i's link to j through that proxy.
 */
import { FaultProxy } from './proxy.js';

export interface NodePorts {
  readonly id: number;
  readonly clientPort: number;
  readonly peerPort: number;
}

/** An unordered pair of node ids, smaller first. */
export type Pair = readonly [number, number];

export function pairKey(a: number, b: number): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}

export class ProxiedNetwork {
  private readonly proxies = new Map<string, FaultProxy>();

  private nodeList: readonly NodePorts[] = [];

  private constructor(private readonly host: string) {}

  get nodes(): readonly NodePorts[] {
    return this.nodeList;
  }

  /** Starts one proxy per pair of `nodes` (on free ports), pointed at the real peer ports. */
  static async start(nodes: readonly NodePorts[], host = '127.0.0.1'): Promise<ProxiedNetwork> {
    const net = await ProxiedNetwork.listen(nodes.map((n) => n.id), host);
    net.bind(nodes);
    return net;
  }

  /**
   * Starts the proxies of nodes `ids` before their ports are known (so the
   * nodes' ports can then be chosen among ports the proxies do not hold);
   * `bind` must follow before any node starts.
   */
  static async listen(ids: readonly number[], host = '127.0.0.1'): Promise<ProxiedNetwork> {
    const net = new ProxiedNetwork(host);
    try {
      for (const a of ids) {
        for (const b of ids) {
          if (a >= b) continue;
          const proxy = new FaultProxy({ host, port: 0 }, host);
          net.proxies.set(pairKey(a, b), proxy);
          await proxy.start(0);
        }
      }
    } catch (e) {
      await net.close();
      throw e;
    }
    return net;
  }

  /** Points each pair's proxy at the higher node's real peer port. */
  bind(nodes: readonly NodePorts[]): void {
    this.nodeList = nodes;
    for (const a of nodes) for (const b of nodes) if (a.id < b.id) this.proxy(a.id, b.id).retarget({ host: this.host, port: b.peerPort });
  }

  proxy(a: number, b: number): FaultProxy {
    const p = this.proxies.get(pairKey(a, b));
    if (p === undefined) throw new RangeError(`no link ${a}-${b}`);
    return p;
  }

  /**
   * `--members` for node `id`: peers with a higher id (the ones it dials) are
   * reached through the pair's proxy; the others (which dial it) are listed
   * with their real ports, which it never dials.
   */
  membersFor(id: number): string {
    return this.nodeList
      .map((n) => {
        const peerPort = n.id > id ? this.proxy(id, n.id).port : n.peerPort;
        return `${n.id}=${this.host}:${n.clientPort}/${peerPort}`;
      })
      .join(',');
  }

  /** Cuts the link a–b both ways. */
  cut(a: number, b: number): void {
    this.proxy(a, b).cut();
  }

  /** Stops messages from `from` to `to` (only). */
  cutOneWay(from: number, to: number): void {
    this.proxy(from, to).cutOne(from < to ? 'forward' : 'backward');
  }

  /** Cuts exactly the given pairs (after healing every other link). */
  partition(pairs: readonly Pair[]): void {
    const cut = new Set(pairs.map(([a, b]) => pairKey(a, b)));
    for (const [key, proxy] of this.proxies) {
      if (cut.has(key)) proxy.cut();
      else if (proxy.mode !== 'open') proxy.heal();
    }
  }

  /**
   * Cuts exactly the given directions (after healing every other link): a
   * pair cut both ways is a full cut, one direction a one-way cut.
   */
  applyCuts(cuts: readonly (readonly [from: number, to: number])[]): void {
    const set = new Set(cuts.map(([from, to]) => `${from}>${to}`));
    for (const a of this.nodeList) {
      for (const b of this.nodeList) {
        if (a.id >= b.id) continue;
        const proxy = this.proxy(a.id, b.id);
        const forward = set.has(`${a.id}>${b.id}`);
        const backward = set.has(`${b.id}>${a.id}`);
        const want = forward && backward ? 'cut' : forward ? 'cut-forward' : backward ? 'cut-backward' : 'open';
        if (proxy.mode === want) continue;
        if (proxy.mode !== 'open') proxy.heal();
        if (want === 'cut') proxy.cut();
        else if (want === 'cut-forward') proxy.cutOne('forward');
        else if (want === 'cut-backward') proxy.cutOne('backward');
      }
    }
  }

  healAll(): void {
    for (const proxy of this.proxies.values()) if (proxy.mode !== 'open') proxy.heal();
  }

  /** Pairs currently not open in some direction. */
  faultyLinks(): string[] {
    return [...this.proxies].filter(([, p]) => p.mode !== 'open').map(([k, p]) => `${k}:${p.mode}`);
  }

  async close(): Promise<void> {
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
  }
}
