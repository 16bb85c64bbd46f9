/**
 * Seeded pseudo-random numbers. Everything that needs randomness (election
 * jitter, the simulation, fault schedules) takes an `Rng`, so a run replays
 * exactly from its seed.
 */
export interface Rng {
  /** A uniformly distributed integer in [0, n). `n` must be a positive integer ≤ 2^32. */
  int(n: number): number;
  /** A float in [0, 1). */
  float(): number;
}

/** sfc32 (Chris Doty-Humphrey's Small Fast Chaotic PRNG), seeded through splitmix32. */
export class SeededRng implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  int(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }

  float(): number {
    return this.u32() / 4294967296;
  }

  /** A new generator whose stream is independent of this one's future draws. */
  fork(): SeededRng {
    return new SeededRng(this.u32());
  }
}
