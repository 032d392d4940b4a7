/** A small seeded random source (mulberry32) for the fuzz runs: a printed seed reproduces a run exactly. */
function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float() {
    return this.next();
  }
  int(max: number) {
    return Math.floor(this.next() * max);
  }
  chance(p: number) {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  bytes(n: number) {
    return Buffer.from(Array.from({ length: n }, () => this.int(256)));
  }
}

/** The seed of a fuzz run: the given one (to reproduce a run) or a fresh one. */
export const fuzzSeed = (given: string | undefined) => Number(given ?? Math.floor(Math.random() * 2 ** 32));
