/**
 * The default core factory: the real RawNode over the core's MemoryStorage,
 * wrapped as a SimDisk (snapshot + compaction in one driver call).
 */
import { MemoryStorage, RawNode } from '../raft/index.js';
import type { ConfState, Entry, HardState, RaftConfig, RaftNodeApi, Snapshot } from '../raft/types.js';
import type { RaftCoreFactory, SimDisk } from './sim-node.js';

export class MemoryDisk implements SimDisk {
  constructor(readonly inner: MemoryStorage) {}

  initialState(): { hardState: HardState; conf: ConfState } {
    return this.inner.initialState();
  }
  entries(lo: number, hi: number, maxBytes?: number): Entry[] {
    return this.inner.entries(lo, hi, maxBytes);
  }
  term(index: number): number {
    return this.inner.term(index);
  }
  firstIndex(): number {
    return this.inner.firstIndex();
  }
  lastIndex(): number {
    return this.inner.lastIndex();
  }
  snapshot(): Snapshot {
    return this.inner.snapshot();
  }
  append(entries: readonly Entry[]): void {
    this.inner.append(entries);
  }
  setHardState(hs: HardState): void {
    this.inner.setHardState(hs);
  }
  applySnapshot(snap: Snapshot): void {
    this.inner.applySnapshot(snap);
  }
  compact(index: number, conf: ConfState, data: Uint8Array, keep: number): void {
    this.inner.createSnapshot(index, data, conf);
    const to = index - keep;
    if (to >= this.inner.firstIndex()) this.inner.compact(to);
  }
  clone(): SimDisk {
    return new MemoryDisk(this.inner.clone());
  }
}

export const realCore: RaftCoreFactory = {
  newDisk(conf: ConfState): SimDisk {
    return new MemoryDisk(new MemoryStorage(conf));
  },
  newNode(config: RaftConfig, disk: SimDisk): RaftNodeApi {
    return new RawNode(config, disk);
  },
};
