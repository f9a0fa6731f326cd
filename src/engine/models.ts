// Models resident in the kernel memory, addressed by version. Loading and
// unloading happen on the engine's control queue, between batches, so a
// worker never reads a region that is being rewritten or reused.
import { SidecarError } from '../errors.js';
import { modelWords, type ModelShape } from '../kernel/layout.js';
import { validateBody, writeModel, readModel, type ModelParams } from '../kernel/model.js';
import type { KernelPool } from '../pool/pool.js';

export interface ResidentModel {
  version: string;
  shape: ModelShape;
  /** Byte offset of the model in the kernel memory. */
  ptr: number;
}

export function loadResident(pool: KernelPool, version: string, p: ModelParams, dim: number, intents: number): ResidentModel {
  if (p.shape.d !== dim) throw new SidecarError('E_MODEL_SHAPE', `model ${version} takes ${p.shape.d} features, the schema has ${dim}`);
  if (p.shape.k !== intents) throw new SidecarError('E_MODEL_SHAPE', `model ${version} scores ${p.shape.k} intents, the config has ${intents}`);
  validateBody(p.shape, p.body);
  const ptr = pool.arena.alloc(modelWords(p.shape.arch, p.shape.d, p.shape.k, p.shape.h) * 4);
  writeModel(pool.kernel.views(), ptr >> 2, p);
  if (pool.kernel.exports.checkFinite(ptr) !== 1) {
    pool.arena.release(ptr);
    throw new SidecarError('E_MODEL_WEIGHTS', `model ${version} has a non-finite weight`);
  }
  pool.modelsChanged(); // the kernel cost per row may differ now (pool.ts: inline batches)
  return { version, shape: { ...p.shape }, ptr };
}

export function unloadResident(pool: KernelPool, m: ResidentModel): void {
  pool.arena.release(m.ptr);
}

/** A copy of the model's current weights (the candidate's change as it learns). */
export function snapshotResident(pool: KernelPool, m: ResidentModel): ModelParams {
  return readModel(pool.kernel.views(), m.ptr >> 2, m.shape);
}
