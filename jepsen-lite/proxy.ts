/**
 * A TCP fault proxy for one link between two nodes. The peer transport opens
 * one connection per pair (the lower id dials the higher), so one proxy sits
 * on each pair: the dialer is configured to reach the acceptor's peer port
 * through the proxy's port.
 *
 * Directions: `forward` is dialer → acceptor (bytes the client side of the
 * TCP connection sends), `backward` is acceptor → dialer.
 *
 * - `cut()` (both ways): every live connection is destroyed; new connections
 *   are accepted but black-holed (nothing forwarded, no upstream connection),
 *   as a real partition looks to a dialer: silence, then its own timeout.
 * - `cutOne(direction)`: live connections stay up, but bytes in that
 *   direction are read and dropped; the other direction still flows. New
 *   connections are forwarded with the same drop. A TCP stream that lost
 *   bytes cannot continue, so every connection that dropped anything is
 *   destroyed at `heal()` and the dialer reconnects.
 * - `heal()`: forwarding resumes for new connections; black-holed and
 *   damaged connections are destroyed.
 */
import { createConnection, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';

export type Direction = 'forward' | 'backward';
export type LinkMode = 'open' | 'cut' | 'cut-forward' | 'cut-backward';

export interface ProxyTarget {
  readonly host: string;
  readonly port: number;
}

interface Pipe {
  readonly downstream: Socket;
  upstream: Socket | null;
  /** True once a byte was dropped: the stream is damaged and dies at heal. */
  damaged: boolean;
  /** Accepted while fully cut: never connected upstream. */
  blackholed: boolean;
}

export interface ProxyStats {
  accepted: number;
  forwardedBytes: number;
  droppedBytes: number;
  destroyed: number;
}

export class FaultProxy {
  private server: Server | null = null;
  private readonly pipes = new Set<Pipe>();
  private modeValue: LinkMode = 'open';
  private boundPort = 0;
  readonly stats: ProxyStats = { accepted: 0, forwardedBytes: 0, droppedBytes: 0, destroyed: 0 };

  constructor(
    private targetValue: ProxyTarget,
    private readonly listenHost = '127.0.0.1',
  ) {}

  get target(): ProxyTarget {
    return this.targetValue;
  }

  /** Points new connections at another address (live ones keep theirs). */
  retarget(target: ProxyTarget): void {
    this.targetValue = target;
  }

  get mode(): LinkMode {
    return this.modeValue;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Live connections (accepted and not yet closed). */
  get connections(): number {
    return this.pipes.size;
  }

  /** Listens (port 0 = any free port); resolves with the bound port. */
  async start(port = 0): Promise<number> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(port, this.listenHost, () => {
        server.off('error', fail);
        done();
      });
    });
    // Errors of accepted sockets are handled per connection; a server error after listening is not fatal to a run.
    server.on('error', () => {});
    this.boundPort = (server.address() as AddressInfo).port;
    return this.boundPort;
  }

  /** Cuts both directions and kills every live connection. */
  cut(): void {
    this.modeValue = 'cut';
    for (const p of [...this.pipes]) this.destroy(p);
  }

  /** Drops bytes in one direction; the other keeps flowing. */
  cutOne(direction: Direction): void {
    if (this.modeValue === 'cut') return;
    const other: LinkMode = direction === 'forward' ? 'cut-backward' : 'cut-forward';
    if (this.modeValue === other) {
      this.cut();
      return;
    }
    this.modeValue = direction === 'forward' ? 'cut-forward' : 'cut-backward';
  }

  /** Forwards again; connections that were black-holed or lost bytes are destroyed. */
  heal(): void {
    this.modeValue = 'open';
    for (const p of [...this.pipes]) if (p.damaged || p.blackholed) this.destroy(p);
  }

  async close(): Promise<void> {
    for (const p of [...this.pipes]) this.destroy(p);
    const server = this.server;
    this.server = null;
    if (server !== null) await new Promise<void>((done) => server.close(() => done()));
  }

  private accept(downstream: Socket): void {
    this.stats.accepted++;
    downstream.setNoDelay(true);
    const pipe: Pipe = { downstream, upstream: null, damaged: false, blackholed: this.modeValue === 'cut' };
    this.pipes.add(pipe);
    downstream.on('error', () => this.destroy(pipe));
    downstream.on('close', () => this.destroy(pipe));
    if (pipe.blackholed) {
      downstream.on('data', (chunk: Buffer) => {
        this.stats.droppedBytes += chunk.length;
      });
      return;
    }
    const upstream = createConnection({ host: this.targetValue.host, port: this.targetValue.port });
    upstream.setNoDelay(true);
    pipe.upstream = upstream;
    upstream.on('error', () => this.destroy(pipe));
    upstream.on('close', () => this.destroy(pipe));
    downstream.on('data', (chunk: Buffer) => this.relay(pipe, chunk, 'forward'));
    upstream.on('data', (chunk: Buffer) => this.relay(pipe, chunk, 'backward'));
  }

  private relay(pipe: Pipe, chunk: Buffer, direction: Direction): void {
    const mode = this.modeValue;
    if (mode === 'cut' || (mode === 'cut-forward' && direction === 'forward') || (mode === 'cut-backward' && direction === 'backward')) {
      pipe.damaged = true;
      this.stats.droppedBytes += chunk.length;
      return;
    }
    const to = direction === 'forward' ? pipe.upstream : pipe.downstream;
    if (to === null || to.destroyed) return;
    this.stats.forwardedBytes += chunk.length;
    // Back-pressure: pause the source while the destination's buffer drains.
    if (!to.write(chunk)) {
      const from = direction === 'forward' ? pipe.downstream : pipe.upstream;
      if (from !== null) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    }
  }

  private destroy(pipe: Pipe): void {
    if (!this.pipes.delete(pipe)) return;
    this.stats.destroyed++;
    pipe.downstream.destroy();
    pipe.upstream?.destroy();
  }
}
