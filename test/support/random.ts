// Seeded pseudo-random numbers for tests: the same cases on every run.

/** xorshift32 (13, 17, 5): a generator of uint32 values from `seed` (0 is taken as 1). */
export function xorshift32(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}
