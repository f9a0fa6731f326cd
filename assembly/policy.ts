// Scores → probabilities → a decision. Pure functions over small arrays in
// linear memory; k is at most MAX_INTENTS (32), so masks fit in one u32.

// Counter-based RNG: a decision's random numbers are a hash of (seed, key,
// stream), where key is the cycle id. A decision therefore replays from the
// seed and the cycle id alone, whatever batch or worker computed it.
@inline
export function mix32(seed: u32, key: u32, stream: u32): u32 {
  let z: u32 = seed ^ (key * 0x9E3779B9) ^ (stream * 0x85EBCA6B);
  z = (z ^ (z >>> 16)) * 0x85EBCA6B;
  z = (z ^ (z >>> 13)) * 0xC2B2AE35;
  return z ^ (z >>> 16);
}

// A uniform f32 in [0, 1) from the top 24 bits (exact in f32).
@inline
export function unit(z: u32): f32 {
  return <f32>(z >>> 8) * (1.0 / 16777216.0);
}

export function argmax(scores: usize, k: i32): i32 {
  let best = 0;
  let bv = load<f32>(scores);
  for (let i = 1; i < k; i++) {
    const v = load<f32>(scores + (<usize>i << 2));
    if (v > bv) { bv = v; best = i; }
  }
  return best;
}

export function maskedArgmax(scores: usize, k: i32, mask: u32): i32 {
  let best = -1;
  let bv: f32 = 0;
  for (let i = 0; i < k; i++) {
    if ((mask >>> i) & 1) {
      const v = load<f32>(scores + (<usize>i << 2));
      if (best < 0 || v > bv) { bv = v; best = i; }
    }
  }
  return best;
}

// probs = softmax(scores / temperature); returns the entropy (nats).
export function softmax(scores: usize, k: i32, temperature: f32, probs: usize): f32 {
  let m = load<f32>(scores);
  for (let i = 1; i < k; i++) m = max(m, load<f32>(scores + (<usize>i << 2)));
  let sum: f32 = 0;
  for (let i = 0; i < k; i++) {
    const e = Mathf.exp((load<f32>(scores + (<usize>i << 2)) - m) / temperature);
    store<f32>(probs + (<usize>i << 2), e);
    sum += e;
  }
  let ent: f32 = 0;
  for (let i = 0; i < k; i++) {
    const p = load<f32>(probs + (<usize>i << 2)) / sum;
    store<f32>(probs + (<usize>i << 2), p);
    if (p > 0) ent -= p * Mathf.log(p);
  }
  return ent;
}

export function validMask(mask: u32, k: i32): u32 {
  const all: u32 = k >= 32 ? 0xFFFFFFFF : ((<u32>1 << k) - 1);
  const m = mask & all;
  return m == 0 ? all : m;
}

// The greedy choice among allowed intents: the model's own argmax when it is
// allowed, else the preferred fallback when given and allowed, else the best
// allowed score.
export function greedyAllowed(scores: usize, k: i32, mask: u32, proposed: i32, pref: i32): i32 {
  if ((mask >>> proposed) & 1) return proposed;
  if (pref >= 0 && pref < k && ((mask >>> pref) & 1)) return pref;
  return maskedArgmax(scores, k, mask);
}

// Picks the served intent. mode 0: epsilon-greedy around `greedy`; mode 1:
// sampling from the softmax restricted to the allowed intents. Writes the
// propensity (the probability this policy had of choosing that intent) to
// propOut and returns the intent.
export function explore(probs: usize, k: i32, mask: u32, greedy: i32, epsilon: f32, mode: i32, seed: u32, key: u32, propOut: usize): i32 {
  const n = <i32>popcnt(mask);
  const u0 = unit(mix32(seed, key, 0));
  if (mode == 1) {
    let total: f32 = 0;
    for (let i = 0; i < k; i++) if ((mask >>> i) & 1) total += load<f32>(probs + (<usize>i << 2));
    if (!(total > 0)) {
      store<f32>(propOut, <f32>1 / <f32>n);
      return greedy;
    }
    const target = u0 * total;
    let cum: f32 = 0;
    let last = greedy;
    for (let i = 0; i < k; i++) {
      if ((mask >>> i) & 1) {
        const p = load<f32>(probs + (<usize>i << 2));
        cum += p;
        last = i;
        if (target < cum) {
          store<f32>(propOut, p / total);
          return i;
        }
      }
    }
    store<f32>(propOut, load<f32>(probs + (<usize>last << 2)) / total);
    return last;
  }
  let chosen = greedy;
  if (u0 < epsilon) {
    const u1 = unit(mix32(seed, key, 1));
    let j = <i32>(u1 * <f32>n);
    if (j >= n) j = n - 1;
    for (let i = 0; i < k; i++) {
      if ((mask >>> i) & 1) {
        if (j == 0) { chosen = i; break; }
        j--;
      }
    }
  }
  const share: f32 = epsilon / <f32>n;
  store<f32>(propOut, chosen == greedy ? (<f32>1 - epsilon) + share : share);
  return chosen;
}
