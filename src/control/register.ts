// REGISTER_MODEL's model: the shape its metadata asks for, and its weights
// (given, copied from a registered model, or initialised from a seed that is
// the version's hash unless given), written to the registry as revision 0.
import { SidecarError } from '../errors.js';
import type { Engine } from '../engine/cycle.js';
import { initBody, bodyFromPlain } from '../kernel/model.js';
import { ARCH_LINEAR, ARCH_MLP, ACT_RELU, ACT_TANH, type ModelShape } from '../kernel/layout.js';
import { mix32 } from '../kernel/reference.js';
import type { Registry } from '../store/registry.js';
import { checkLayout, runningLayout } from './model-io.js';
import { checkStoredLayout } from './preload.js';
import type { RegisterSpec } from './params.js';

export async function registerModel(spec: RegisterSpec, e: Engine, registry: Registry, clock: () => number): Promise<Awaited<ReturnType<Registry['write']>>> {
  checkLayout(spec.metadata, e); // weights made for another feature order or intents: E_MODEL_LAYOUT
  const shape: ModelShape = {
    arch: spec.architecture === 'mlp' ? ARCH_MLP : ARCH_LINEAR, d: e.schema.dim, k: e.intents.count,
    h: spec.architecture === 'mlp' ? spec.hidden : 0, activation: spec.activation === 'tanh' ? ACT_TANH : ACT_RELU,
  };
  const seed = spec.seed ?? mix32(0x5eed, [...spec.version].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0, 2166136261), 3);
  let body: Float32Array;
  if (spec.weights) body = bodyFromPlain(shape, spec.weights);
  else if (typeof spec.init === 'object') {
    const from = spec.init.from;
    const rev = registry.latestRevision(from);
    if (rev < 0) throw new SidecarError('E_UNKNOWN_MODEL', `init.from: model ${from} is not registered`);
    checkStoredLayout(registry, e, from); // weights copied from a model of another layout: E_MODEL_LAYOUT
    const src = await registry.read({ version: from, revision: rev });
    if (src.shape.arch !== shape.arch || src.shape.h !== shape.h || src.shape.activation !== shape.activation || src.shape.d !== shape.d || src.shape.k !== shape.k) {
      throw new SidecarError('E_MODEL_SHAPE', `init.from: ${from} has another shape than the metadata asks for`);
    }
    body = src.body;
  } else body = initBody(shape, spec.init, seed);
  const now = new Date(clock()).toISOString();
  // The running layout is stored with every registration (weights given or
  // not; promoted revisions keep their version's metadata): the weights are
  // read against it from now on, and every later load is checked against it.
  const metadata = { ...spec.metadata, version: spec.version, architecture: spec.architecture, created_at: now, layout: runningLayout(e),
    ...(spec.architecture === 'mlp' ? { hidden: spec.hidden, activation: spec.activation } : {}) };
  return registry.write(metadata, 0, { shape, seed, updates: 0, body }, 'registered', now);
}
