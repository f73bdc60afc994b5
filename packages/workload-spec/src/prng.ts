/**
 * The named seeded PRNG: xoshiro128** 1.1 (Blackman & Vigna), seeded through splitmix32 so any 32-bit seed
 * (and any string label) gives a well-mixed state. Pure 32-bit integer arithmetic, so streams are identical on every
 * platform and Node version. Also the few distributions the workload needs. Not cryptographic.
 */

/** Name recorded in workload.json so a reader knows which generator made the schedule. */
export const PRNG_NAME = "xoshiro128**/splitmix32";

/** A seeded stream of uniform numbers. */
export interface Rng {
  /** Next raw 32-bit unsigned integer. */
  nextU32(): number;
  /** Uniform float in [0, 1) with 53 random bits. */
  next(): number;
}

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a over a string's UTF-16 code units: turns a label into a 32-bit value to derive sub-streams. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Create an xoshiro128** stream from an integer seed and an optional label; different labels give independent
 * streams for the same seed (e.g. "arrivals" vs "decode" vs "prompt:17"), so changing one part of a spec does not
 * shift the random numbers of another.
 */
export function createRng(seed: number, label = ""): Rng {
  const mix = { s: (seed >>> 0) ^ hashLabel(label) };
  // Also fold the high bits of seeds above 2^32 so they are not silently ignored.
  mix.s = (mix.s ^ Math.floor(seed / 0x100000000)) | 0;
  let a = splitmix32(mix);
  let b = splitmix32(mix);
  let c = splitmix32(mix);
  let d = splitmix32(mix);
  if ((a | b | c | d) === 0) a = 1; // the all-zero state is a fixed point
  const nextU32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
  return {
    nextU32,
    next: () => {
      const hi = nextU32() >>> 5; // 27 bits
      const lo = nextU32() >>> 6; // 26 bits
      return (hi * 67108864 + lo) / 9007199254740992;
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Uniform integer in [min, max] (inclusive), unbiased (rejection sampling). */
export function sampleIntInclusive(rng: Rng, min: number, max: number): number {
  const span = max - min + 1;
  if (span <= 1) return min;
  if (span > 0x100000000) return min + Math.floor(rng.next() * span);
  const limit = 0x100000000 - (0x100000000 % span);
  for (;;) {
    const x = rng.nextU32();
    if (x < limit) return min + (x % span);
  }
}

/** Exponential variate with the given mean. */
export function sampleExponential(rng: Rng, mean: number): number {
  return -Math.log(1 - rng.next()) * mean;
}

/** Standard normal variate (Box-Muller; one of the pair is discarded so the stream stays simple). */
export function sampleStandardNormal(rng: Rng): number {
  const u1 = 1 - rng.next(); // (0, 1]
  const u2 = rng.next();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** Gamma variate with shape k and scale theta (Marsaglia-Tsang; k < 1 through the u^(1/k) boost). */
export function sampleGamma(rng: Rng, shape: number, scale: number): number {
  if (shape < 1) {
    const u = 1 - rng.next();
    return sampleGamma(rng, shape + 1, scale) * u ** (1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = sampleStandardNormal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rng.next();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v * scale;
  }
}
