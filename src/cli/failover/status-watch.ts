/**
 * Polls every running node's /health about every 50 ms and keeps the samples
 * (on the recorder's clock), from which the demo reads the election time and
 * the restarted node's catch-up.
 */
import type { LocalCluster } from '../client-cluster.js';
import type { HistoryRecorder } from './history-recorder.js';
import type { NodeSample, StatusSample } from './timeline.js';

export class StatusWatch {
  readonly samples: StatusSample[] = [];
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private wake: (() => void) | undefined;
  /** Called after each poll round. */
  onSample: ((sample: StatusSample) => void) | undefined;

  constructor(
    private readonly cluster: LocalCluster,
    private readonly recorder: HistoryRecorder,
    private readonly intervalMs = 50,
    private readonly requestTimeoutMs = 250,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** The latest sample, if any. */
  latest(): StatusSample | undefined {
    return this.samples[this.samples.length - 1];
  }

  /** The node that reports itself leader in the latest sample (highest term wins), or null. */
  currentLeader(): NodeSample | null {
    let best: NodeSample | null = null;
    for (const n of this.latest()?.nodes ?? []) if (n.role === 'leader' && (best === null || n.term > best.term)) best = n;
    return best;
  }

  /** Polls once now (also used before the watch starts). */
  async pollOnce(): Promise<StatusSample> {
    const nodes = await Promise.all(
      this.cluster.nodes.map(async (n): Promise<NodeSample> => {
        const s = n.child === null ? null : await this.cluster.health(n, this.requestTimeoutMs);
        return s === null
          ? { id: n.id, role: null, term: 0, commit: 0, applied: 0 }
          : { id: n.id, role: s.role, term: s.term, commit: s.commit, applied: s.applied };
      }),
    );
    const sample: StatusSample = { timeNs: this.recorder.nowNs(), nodes };
    this.samples.push(sample);
    this.onSample?.(sample);
    return sample;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const started = performance.now();
      await this.pollOnce();
      const wait = this.intervalMs - (performance.now() - started);
      if (wait > 0 && this.running) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
      }
    }
  }
}
