// The regions of the shared kernel memory one batch is written to: feature
// rows, control words (mask, preferred fallback, RNG key), both models'
// output rows, experience records, and the scratch sized for the largest
// loaded model. Word layouts are those of src/kernel/layout.ts.
import {
  OUT_STRIDE, CTRL_STRIDE, C_MASK, C_PREF, C_KEY, EXP_TAIL, E_ACTION, E_REWARD, E_PROPENSITY, E_STATUS, STATUS_OK, scratchWords,
  type ModelShape,
} from '../kernel/layout.js';
import type { KernelPool } from '../pool/pool.js';
import type { Mem } from '../kernel/reference.js';

export class BatchSlot {
  readonly feats: number;
  readonly ctrl: number;
  readonly prodOut: number;
  readonly candOut: number;
  readonly exps: number;
  scratch = 0;
  private scratchBytes = 0;

  /** `cap` rows, each with room for one experience plus one safety-shaping record per intent. */
  constructor(private readonly pool: KernelPool, cap: number, private readonly dp: number, intents: number) {
    const a = pool.arena;
    this.feats = a.alloc(cap * dp * 4);
    this.ctrl = a.alloc(cap * CTRL_STRIDE * 4);
    this.prodOut = a.alloc(cap * OUT_STRIDE * 4);
    this.candOut = a.alloc(cap * OUT_STRIDE * 4);
    this.exps = a.alloc(cap * (1 + intents) * (dp + EXP_TAIL) * 4);
  }

  /** Grows the scratch for a model about to be loaded (between batches). */
  ensureScratch(s: ModelShape): void {
    const bytes = scratchWords(s.arch, s.d, s.k, s.h) * 4;
    if (bytes <= this.scratchBytes) return;
    if (this.scratch) this.pool.arena.release(this.scratch);
    this.scratch = this.pool.arena.alloc(bytes);
    this.scratchBytes = bytes;
  }

  writeRow(m: Mem, i: number, features: Float32Array, mask: number, pref: number, key: number): void {
    m.f.set(features, (this.feats >> 2) + i * this.dp);
    const c = (this.ctrl >> 2) + i * CTRL_STRIDE;
    m.u[c + C_MASK] = mask;
    m.i[c + C_PREF] = pref;
    m.u[c + C_KEY] = key >>> 0;
  }

  writeExp(m: Mem, at: number, features: Float32Array, action: number, reward: number, propensity: number): void {
    const dp = this.dp;
    const e = (this.exps >> 2) + at * (dp + EXP_TAIL);
    m.f.set(features, e);
    m.i[e + dp + E_ACTION] = action;
    m.f[e + dp + E_REWARD] = reward;
    m.f[e + dp + E_PROPENSITY] = propensity;
    m.i[e + dp + E_STATUS] = -1;
  }

  /** Whether the kernel applied experience record `at`. */
  expApplied(m: Mem, at: number): boolean {
    return m.i[(this.exps >> 2) + at * (this.dp + EXP_TAIL) + this.dp + E_STATUS] === STATUS_OK;
  }
}
