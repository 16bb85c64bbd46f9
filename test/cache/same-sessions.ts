/** Checks that the state machine's client sessions are the model's (fails the test with a readable diff otherwise). */
import { expect } from 'vitest';
import type { CacheStateMachine } from '../../src/cache/index.js';
import type { ModelCache } from './model.js';

export function expectSameSessions(sm: CacheStateMachine, m: ModelCache): void {
  for (const s of m.sessions) {
    const real = sm.session(s.id);
    const same =
      real !== undefined &&
      real.lastActive === s.lastActive &&
      real.floor === s.floor &&
      real.seqs.join() === s.results.map((r) => r.seq).join();
    if (!same) expect({ id: s.id, ...real }).toEqual(s);
  }
}
