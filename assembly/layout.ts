// Buffer layout of a model, in f32 words from the model's base pointer.
// src/kernel/layout.ts mirrors this file word for word; a test compares the
// two for many shapes, so change both together.
//
// A model is one contiguous, 16-byte aligned region:
//   header[HEADER_WORDS] | scales[dp] | inv[dp] | w1[r1*dp] | b1[pad(r1)] | w2[k*hp] | b2[pad(k)]
// where r1 = k for linear (w1/b1 are the output layer) and r1 = h for mlp.
// Rows are padded to a multiple of 4 floats so that SIMD loads never straddle
// a row and the padding lanes (always zero) add nothing to a dot product.

export const ARCH_LINEAR: i32 = 1;
export const ARCH_MLP: i32 = 2;
export const ACT_RELU: i32 = 0;
export const ACT_TANH: i32 = 1;

export const HEADER_WORDS: i32 = 16;
export const H_ARCH: i32 = 0;
export const H_D: i32 = 1;
export const H_K: i32 = 2;
export const H_H: i32 = 3;
export const H_ACT: i32 = 4;
export const H_SEED: i32 = 5;
export const H_UPDATES: i32 = 6;

// One row of a batch's decision output, per model (f32 words).
export const OUT_STRIDE: i32 = 8;
export const O_PROPOSED: i32 = 0;
export const O_CONFIDENCE: i32 = 1;
export const O_ENTROPY: i32 = 2;
export const O_GREEDY: i32 = 3;
export const O_CHOSEN: i32 = 4;
export const O_PROPENSITY: i32 = 5;
export const O_STATUS: i32 = 6;
export const O_ALLOWED: i32 = 7;

// One row of a batch's control input (i32 words).
export const CTRL_STRIDE: i32 = 4;
export const C_MASK: i32 = 0;
export const C_PREF: i32 = 1;
export const C_KEY: i32 = 2;

// An experience record: features[dp] then these words.
export const EXP_TAIL: i32 = 4;
export const E_ACTION: i32 = 0;
export const E_REWARD: i32 = 1;
export const E_PROPENSITY: i32 = 2;
export const E_STATUS: i32 = 3;

export const STATUS_OK: i32 = 0;
export const STATUS_NONFINITE: i32 = 1;
export const STATUS_BAD_ARGS: i32 = 2;

export const MAX_INTENTS: i32 = 32;

export function pad4(n: i32): i32 {
  return (n + 3) & ~3;
}

export function rows1(arch: i32, k: i32, h: i32): i32 {
  return arch == ARCH_MLP ? h : k;
}

export function scalesOff(d: i32): i32 {
  return HEADER_WORDS;
}

export function invOff(d: i32): i32 {
  return HEADER_WORDS + pad4(d);
}

export function w1Off(d: i32): i32 {
  return HEADER_WORDS + 2 * pad4(d);
}

export function b1Off(arch: i32, d: i32, k: i32, h: i32): i32 {
  return w1Off(d) + rows1(arch, k, h) * pad4(d);
}

export function w2Off(arch: i32, d: i32, k: i32, h: i32): i32 {
  return b1Off(arch, d, k, h) + pad4(rows1(arch, k, h));
}

export function b2Off(arch: i32, d: i32, k: i32, h: i32): i32 {
  return w2Off(arch, d, k, h) + (arch == ARCH_MLP ? k * pad4(h) : 0);
}

export function modelWords(arch: i32, d: i32, k: i32, h: i32): i32 {
  return b2Off(arch, d, k, h) + (arch == ARCH_MLP ? pad4(k) : 0);
}

// Scratch a call needs (f32 words): normalised input, hidden pre-activation and
// activation, scores, probabilities, and a full copy of the model so that an
// update can be undone when it would make a weight non-finite.
export function scratchWords(arch: i32, d: i32, k: i32, h: i32): i32 {
  return pad4(d) + 2 * pad4(h) + 2 * pad4(k) + modelWords(arch, d, k, h);
}

export function sXn(d: i32, k: i32, h: i32): i32 {
  return 0;
}
export function sPre(d: i32, k: i32, h: i32): i32 {
  return pad4(d);
}
export function sHid(d: i32, k: i32, h: i32): i32 {
  return pad4(d) + pad4(h);
}
export function sScores(d: i32, k: i32, h: i32): i32 {
  return pad4(d) + 2 * pad4(h);
}
export function sProbs(d: i32, k: i32, h: i32): i32 {
  return pad4(d) + 2 * pad4(h) + pad4(k);
}
export function sBackup(d: i32, k: i32, h: i32): i32 {
  return pad4(d) + 2 * pad4(h) + 2 * pad4(k);
}
