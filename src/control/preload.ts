// Reading a model before a transition names it. A transition that loads a
// model (SET_CANDIDATE_MODEL, PROMOTE_CANDIDATE's holdback, ROLLBACK_MODEL)
// reads and checks every file it names *before* the state is committed, so a
// damaged file or a model made for another layout is a refusal with nothing
// changed, not a durable state that names a model the engine cannot serve.
// The same checks guard the start-up load (src/sidecar.ts) and the system's
// own transitions (the automatic rollback), which cannot be refused: there a
// failure is reported through the failure taxonomy (MODEL_LOAD_FAILURE).
import { SidecarError, isSidecarError } from '../errors.js';
import type { Engine } from '../engine/cycle.js';
import type { Registry } from '../store/registry.js';
import type { ModelRef } from '../store/control-state.js';
import type { Effect } from './lifecycle.js';
import { validateBody, type ModelParams } from '../kernel/model.js';
import { checkLayout } from './model-io.js';

/**
 * The stored model's layout against the running schema: E_MODEL_LAYOUT,
 * naming the version and the first difference. A model stored by a version
 * of shadowpath that kept no layout is accepted (its layout is unknown; only
 * its dimensions can be checked), and GET_MODEL says so.
 */
export function checkStoredLayout(registry: Registry, engine: Engine, version: string): void {
  const md = registry.get(version)?.metadata;
  if (!md || md.layout === undefined) return;
  try {
    checkLayout(md, engine);
  } catch (e) {
    if (isSidecarError(e)) throw new SidecarError(e.code === 'E_BAD_COMMAND' ? 'E_MODEL_LAYOUT' : e.code, `model ${version}: ${e.message}`, e.details);
    throw e;
  }
}

/** What the engine checks when it loads a model (loadResident), checked ahead: dimensions and weights. */
export function checkParams(engine: Engine, version: string, p: ModelParams): void {
  if (p.shape.d !== engine.schema.dim) throw new SidecarError('E_MODEL_SHAPE', `model ${version} takes ${p.shape.d} features, the schema has ${engine.schema.dim}`);
  if (p.shape.k !== engine.intents.count) throw new SidecarError('E_MODEL_SHAPE', `model ${version} scores ${p.shape.k} intents, the config has ${engine.intents.count}`);
  try {
    validateBody(p.shape, p.body); // lengths, finiteness, padding
  } catch (e) {
    if (isSidecarError(e)) throw new SidecarError(e.code, `model ${version}: ${e.message}`);
    throw e;
  }
}

/** Reads a stored revision (SHA-256 checked) and checks it fits the running schema and engine. */
export async function readLoadable(registry: Registry, engine: Engine, ref: ModelRef): Promise<ModelParams> {
  checkStoredLayout(registry, engine, ref.version);
  let p: ModelParams;
  try {
    p = await registry.read(ref);
  } catch (e) {
    // The decoder's message does not say which file: the operator needs to know.
    if (isSidecarError(e) && !e.message.includes(`${ref.version} revision ${ref.revision}`)) throw new SidecarError(e.code, `model ${ref.version} revision ${ref.revision}: ${e.message}`, e.details);
    throw e;
  }
  checkParams(engine, ref.version, p);
  return p;
}

/** Models read ahead for a transition's loads, by revision. */
export type Preloaded = Map<string, ModelParams>;
export const refKey = (r: ModelRef): string => `${r.version}.r${r.revision}`;

/**
 * The checks of a transition's loads that need no file (synchronous, so a
 * caller can check and commit with nothing awaited in between): the layout
 * of a candidate being promoted, and the revision it freezes (taken from
 * `frozen` once there is one: it is not on disk before the freeze). Returns
 * the stored revisions still to be read into `have`.
 */
export function unreadEffects(registry: Registry, engine: Engine, effects: Effect[], frozen: ModelParams | null, have: Preloaded): ModelRef[] {
  const into = effects.find((f): f is Extract<Effect, { kind: 'freeze_candidate' }> => f.kind === 'freeze_candidate')?.into;
  if (into) checkStoredLayout(registry, engine, into.version);
  const todo: ModelRef[] = [];
  for (const fx of effects) {
    if (fx.kind !== 'load' || !fx.ref || have.has(refKey(fx.ref))) continue;
    if (into && refKey(fx.ref) === refKey(into)) {
      if (frozen) { checkParams(engine, into.version, frozen); have.set(refKey(into), frozen); }
      continue;
    }
    todo.push(fx.ref);
  }
  return todo;
}

/** Reads and checks every stored model a transition's effects load (into `have`). */
export async function preloadEffects(registry: Registry, engine: Engine, effects: Effect[], frozen: ModelParams | null, have: Preloaded = new Map()): Promise<Preloaded> {
  for (const ref of unreadEffects(registry, engine, effects, frozen, have)) have.set(refKey(ref), await readLoadable(registry, engine, ref));
  return have;
}
