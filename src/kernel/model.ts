// Model parameters as the host sees them: a shape, an RNG seed and the
// "body" (every word of the kernel's model buffer after the header: scales,
// inverse scales, weights and biases, rows padded to 4). Building, validating
// and hashing bodies lives here so that nothing else needs the layout.
import { createHash } from 'node:crypto';
import { SidecarError } from '../errors.js';
import {
  ARCH_LINEAR, ARCH_MLP, ACT_RELU, ACT_TANH, HEADER_WORDS, H_ARCH, H_D, H_K, H_H, H_ACT, H_SEED, H_UPDATES, MAX_INTENTS,
  pad4, rows1, scalesOff, invOff, w1Off, b1Off, w2Off, b2Off, modelWords, type ModelShape,
} from './layout.js';
import type { Mem } from './reference.js';
import { mix32, unit } from './reference.js';

export const MAX_DIM = 1024;
export const MAX_HIDDEN = 1024;

export interface ModelParams {
  shape: ModelShape;
  /** Seed of the model's counter-based exploration RNG (u32). */
  seed: number;
  /** Words scalesOff .. modelWords of the kernel buffer. */
  body: Float32Array;
  /** SGD steps applied so far. */
  updates: number;
}

/** Weights as users write them: unpadded rows. For linear, w1/b1 are the output layer. */
export interface PlainWeights {
  w1: number[][];
  b1: number[];
  w2?: number[][];
  b2?: number[];
  /** Per-feature scales the weights were trained with; 1 when absent. */
  scales?: number[];
}

export function validateShape(shape: ModelShape): void {
  const { arch, d, k, h, activation } = shape;
  const int = (v: unknown, lo: number, hi: number) => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
  if (arch !== ARCH_LINEAR && arch !== ARCH_MLP) throw new SidecarError('E_MODEL_SHAPE', `unknown architecture ${String(arch)}`);
  if (!int(d, 1, MAX_DIM)) throw new SidecarError('E_MODEL_SHAPE', `input dimension must be an integer in 1..${MAX_DIM}, got ${String(d)}`);
  if (!int(k, 2, MAX_INTENTS)) throw new SidecarError('E_MODEL_SHAPE', `intent count must be an integer in 2..${MAX_INTENTS}, got ${String(k)}`);
  if (arch === ARCH_MLP && !int(h, 1, MAX_HIDDEN)) throw new SidecarError('E_MODEL_SHAPE', `hidden width must be an integer in 1..${MAX_HIDDEN}, got ${String(h)}`);
  if (arch === ARCH_LINEAR && h !== 0) throw new SidecarError('E_MODEL_SHAPE', 'a linear model has no hidden layer (h must be 0)');
  if (activation !== ACT_RELU && activation !== ACT_TANH) throw new SidecarError('E_MODEL_SHAPE', `unknown activation ${String(activation)}`);
}

export function bodyWords(s: ModelShape): number {
  return modelWords(s.arch, s.d, s.k, s.h) - HEADER_WORDS;
}

/**
 * A new body. `zeros`: every weight 0. `random`: uniform in ±1/sqrt(fan_in),
 * from the seed. Both start with unseen feature scales (0), so the first
 * values learned from set each feature's unit.
 */
export function initBody(s: ModelShape, init: 'zeros' | 'random', seed: number): Float32Array {
  validateShape(s);
  const body = new Float32Array(bodyWords(s));
  if (init === 'random') {
    const dp = pad4(s.d), hp = pad4(s.h);
    let n = 0;
    const rnd = (bound: number) => (unit(mix32(seed >>> 0, n++, 7)) * 2 - 1) * bound;
    const r1 = rows1(s.arch, s.k, s.h);
    const w1 = w1Off(s.d) - HEADER_WORDS;
    for (let j = 0; j < r1; j++) for (let i = 0; i < s.d; i++) body[w1 + j * dp + i] = rnd(1 / Math.sqrt(s.d));
    if (s.arch === ARCH_MLP) {
      const w2 = w2Off(s.arch, s.d, s.k, s.h) - HEADER_WORDS;
      for (let c = 0; c < s.k; c++) for (let j = 0; j < s.h; j++) body[w2 + c * hp + j] = rnd(1 / Math.sqrt(s.h));
    }
  }
  return body;
}

function need(cond: boolean, what: string): void {
  if (!cond) throw new SidecarError('E_MODEL_WEIGHTS', what);
}

function row(v: unknown, len: number, what: string): number[] {
  need(Array.isArray(v) && v.length === len, `${what} must be an array of ${len} numbers`);
  for (const x of v as unknown[]) need(typeof x === 'number' && Number.isFinite(x), `${what} holds a non-finite or non-number value`);
  return v as number[];
}

/** A body from plain (unpadded) weights; every length and value checked. */
export function bodyFromPlain(s: ModelShape, w: PlainWeights): Float32Array {
  validateShape(s);
  need(typeof w === 'object' && w !== null, 'weights must be an object {w1, b1, w2?, b2?, scales?}');
  const body = new Float32Array(bodyWords(s));
  const dp = pad4(s.d), hp = pad4(s.h), r1 = rows1(s.arch, s.k, s.h);
  const sc = w.scales === undefined ? new Array<number>(s.d).fill(1) : row(w.scales, s.d, 'weights.scales');
  for (let i = 0; i < s.d; i++) {
    need(sc[i] >= 0, 'weights.scales must not be negative');
    body[scalesOff(s.d) - HEADER_WORDS + i] = sc[i];
    body[invOff(s.d) - HEADER_WORDS + i] = sc[i] > 0 ? 1 / sc[i] : 0;
  }
  need(Array.isArray(w.w1) && w.w1.length === r1, `weights.w1 must have ${r1} rows`);
  for (let j = 0; j < r1; j++) body.set(row(w.w1[j], s.d, `weights.w1[${j}]`), w1Off(s.d) - HEADER_WORDS + j * dp);
  body.set(row(w.b1, r1, 'weights.b1'), b1Off(s.arch, s.d, s.k, s.h) - HEADER_WORDS);
  if (s.arch === ARCH_MLP) {
    need(Array.isArray(w.w2) && w.w2.length === s.k, `weights.w2 must have ${s.k} rows`);
    for (let c = 0; c < s.k; c++) body.set(row(w.w2![c], s.h, `weights.w2[${c}]`), w2Off(s.arch, s.d, s.k, s.h) - HEADER_WORDS + c * hp);
    body.set(row(w.b2, s.k, 'weights.b2'), b2Off(s.arch, s.d, s.k, s.h) - HEADER_WORDS);
  } else {
    need(w.w2 === undefined && w.b2 === undefined, 'a linear model takes only w1 and b1');
  }
  validateBody(s, body);
  return body;
}

/** The body in plain form (inverse of bodyFromPlain). */
export function plainFromBody(s: ModelShape, body: Float32Array): PlainWeights {
  const dp = pad4(s.d), hp = pad4(s.h), r1 = rows1(s.arch, s.k, s.h), H = HEADER_WORDS;
  const slice = (off: number, n: number) => Array.from(body.subarray(off - H, off - H + n));
  const out: PlainWeights = {
    scales: slice(scalesOff(s.d), s.d),
    w1: Array.from({ length: r1 }, (_, j) => slice(w1Off(s.d) + j * dp, s.d)),
    b1: slice(b1Off(s.arch, s.d, s.k, s.h), r1),
  };
  if (s.arch === ARCH_MLP) {
    out.w2 = Array.from({ length: s.k }, (_, c) => slice(w2Off(s.arch, s.d, s.k, s.h) + c * hp, s.h));
    out.b2 = slice(b2Off(s.arch, s.d, s.k, s.h), s.k);
  }
  return out;
}

/** Length right, every value finite, padding lanes zero, inverse scales consistent. */
export function validateBody(s: ModelShape, body: Float32Array): void {
  validateShape(s);
  need(body instanceof Float32Array, 'weights must be a Float32Array');
  need(body.length === bodyWords(s), `weights must hold ${bodyWords(s)} values for this shape, got ${body.length}`);
  for (let i = 0; i < body.length; i++) need(Number.isFinite(body[i]), `weight ${i} is not finite`);
  const dp = pad4(s.d), hp = pad4(s.h), r1 = rows1(s.arch, s.k, s.h), H = HEADER_WORDS;
  for (let i = 0; i < s.d; i++) need(body[scalesOff(s.d) - H + i] >= 0, `scale ${i} is negative`);
  for (let i = s.d; i < dp; i++) {
    need(body[scalesOff(s.d) - H + i] === 0 && body[invOff(s.d) - H + i] === 0, 'padding of the scales is not zero');
    for (let j = 0; j < r1; j++) need(body[w1Off(s.d) - H + j * dp + i] === 0, 'padding of w1 is not zero');
  }
  if (s.arch === ARCH_MLP) {
    for (let c = 0; c < s.k; c++) for (let j = s.h; j < hp; j++) need(body[w2Off(s.arch, s.d, s.k, s.h) - H + c * hp + j] === 0, 'padding of w2 is not zero');
  }
}

/** Writes header and body at word address `at` of the kernel memory. */
export function writeModel(mem: Mem, at: number, p: ModelParams): void {
  const s = p.shape;
  mem.i[at + H_ARCH] = s.arch;
  mem.i[at + H_D] = s.d;
  mem.i[at + H_K] = s.k;
  mem.i[at + H_H] = s.h;
  mem.i[at + H_ACT] = s.activation;
  mem.u[at + H_SEED] = p.seed >>> 0;
  mem.u[at + H_UPDATES] = p.updates >>> 0;
  mem.f.set(p.body, at + HEADER_WORDS);
}

/** A copy of the model at word address `at`. */
export function readModel(mem: Mem, at: number, shape: ModelShape): ModelParams {
  return {
    shape: { ...shape },
    seed: mem.u[at + H_SEED],
    updates: mem.u[at + H_UPDATES],
    body: mem.f.slice(at + HEADER_WORDS, at + HEADER_WORDS + bodyWords(shape)),
  };
}

/** SHA-256 over the shape, the seed and the body's bytes: names exact weights. */
export function weightsSha256(p: ModelParams): string {
  const head = new Int32Array([p.shape.arch, p.shape.d, p.shape.k, p.shape.h, p.shape.activation, p.seed | 0]);
  return createHash('sha256')
    .update(new Uint8Array(head.buffer))
    .update(new Uint8Array(p.body.buffer, p.body.byteOffset, p.body.byteLength))
    .digest('hex');
}
