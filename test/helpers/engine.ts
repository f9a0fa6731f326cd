import { Engine, type EngineOptions } from '../../src/engine/cycle.js';
import { initBody, type ModelParams } from '../../src/kernel/model.js';
import { ARCH_LINEAR, ARCH_MLP, ACT_RELU, type ModelShape } from '../../src/kernel/layout.js';
import type { CycleReply, ErrorReply } from '../../src/engine/types.js';

export function modelFor(e: Engine, arch: 'linear' | 'mlp' = 'linear', init: 'zeros' | 'random' = 'zeros', seed = 1, h = 16): ModelParams {
  const shape: ModelShape = { arch: arch === 'mlp' ? ARCH_MLP : ARCH_LINEAR, d: e.schema.dim, k: e.intents.count, h: arch === 'mlp' ? h : 0, activation: ACT_RELU };
  return { shape, seed, body: initBody(shape, init, seed), updates: 0 };
}

/** Pool threads unless a test says: 0, or SP_TEST_POOL_THREADS (see helpers/sidecar.ts). */
export async function engine(opts: EngineOptions = {}): Promise<Engine> {
  return Engine.create({ ...opts, config: { pool_threads: Number(process.env.SP_TEST_POOL_THREADS ?? 0), ...opts.config } });
}

export function ok(r: CycleReply | ErrorReply): CycleReply {
  if (r.status !== 'OK') throw new Error(`expected OK, got ${JSON.stringify(r)}`);
  return r;
}

export const STATE = { health: 0.8, energy: 1, target_distance: 12.5, is_floor_ahead: true };
export const GOOD_RESULT = { status: 'SUCCESS', outcomes: { is_alive: true, damage_dealt: 0.5, damage_received: 0 } };
