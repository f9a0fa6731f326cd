// TS mirror of assembly/layout.ts (word offsets of a model buffer and of the
// batch records). test/unit/kernel/layout.test.ts checks every function here
// against the WASM exports of the same name for many shapes.

export const ARCH_LINEAR = 1;
export const ARCH_MLP = 2;
export const ACT_RELU = 0;
export const ACT_TANH = 1;

export const HEADER_WORDS = 16;
export const H_ARCH = 0;
export const H_D = 1;
export const H_K = 2;
export const H_H = 3;
export const H_ACT = 4;
export const H_SEED = 5;
export const H_UPDATES = 6;

export const OUT_STRIDE = 8;
export const O_PROPOSED = 0;
export const O_CONFIDENCE = 1;
export const O_ENTROPY = 2;
export const O_GREEDY = 3;
export const O_CHOSEN = 4;
export const O_PROPENSITY = 5;
export const O_STATUS = 6;
export const O_ALLOWED = 7;

export const CTRL_STRIDE = 4;
export const C_MASK = 0;
export const C_PREF = 1;
export const C_KEY = 2;

export const EXP_TAIL = 4;
export const E_ACTION = 0;
export const E_REWARD = 1;
export const E_PROPENSITY = 2;
export const E_STATUS = 3;

export const STATUS_OK = 0;
export const STATUS_NONFINITE = 1;
export const STATUS_BAD_ARGS = 2;

export const MAX_INTENTS = 32;

export type Arch = typeof ARCH_LINEAR | typeof ARCH_MLP;

export const pad4 = (n: number): number => (n + 3) & ~3;
export const rows1 = (arch: number, k: number, h: number): number => (arch === ARCH_MLP ? h : k);
export const scalesOff = (_d: number): number => HEADER_WORDS;
export const invOff = (d: number): number => HEADER_WORDS + pad4(d);
export const w1Off = (d: number): number => HEADER_WORDS + 2 * pad4(d);
export const b1Off = (arch: number, d: number, k: number, h: number): number => w1Off(d) + rows1(arch, k, h) * pad4(d);
export const w2Off = (arch: number, d: number, k: number, h: number): number => b1Off(arch, d, k, h) + pad4(rows1(arch, k, h));
export const b2Off = (arch: number, d: number, k: number, h: number): number =>
  w2Off(arch, d, k, h) + (arch === ARCH_MLP ? k * pad4(h) : 0);
export const modelWords = (arch: number, d: number, k: number, h: number): number =>
  b2Off(arch, d, k, h) + (arch === ARCH_MLP ? pad4(k) : 0);
export const scratchWords = (arch: number, d: number, k: number, h: number): number =>
  pad4(d) + 2 * pad4(h) + 2 * pad4(k) + modelWords(arch, d, k, h);

export const sXn = (_d: number, _k: number, _h: number): number => 0;
export const sPre = (d: number, _k: number, _h: number): number => pad4(d);
export const sHid = (d: number, _k: number, h: number): number => pad4(d) + pad4(h);
export const sScores = (d: number, _k: number, h: number): number => pad4(d) + 2 * pad4(h);
export const sProbs = (d: number, k: number, h: number): number => pad4(d) + 2 * pad4(h) + pad4(k);
export const sBackup = (d: number, k: number, h: number): number => pad4(d) + 2 * pad4(h) + 2 * pad4(k);

export const expStride = (d: number): number => pad4(d) + EXP_TAIL;

/** The shape of a model: enough to lay out its buffer. */
export interface ModelShape {
  arch: Arch;
  d: number;
  k: number;
  h: number;
  activation: typeof ACT_RELU | typeof ACT_TANH;
}
