// Models that travel: the input layout a model's weights are read against,
// GET_MODEL's view of it, EXPORT_MODEL (weights in exactly the form
// REGISTER_MODEL takes), and the check that refuses weights made for another
// layout (E_MODEL_LAYOUT, naming the first difference).
//
// A layout is: the feature order (the schema's fields but the timestamp, each
// with its type, its clamping range and the factor it is multiplied by), the
// intents in order, and the model's shape. Weights say nothing of names: a
// model trained with `health` first, read by a schema with `energy` first,
// would run and be wrong. So an exported model carries its layout, and a
// registration that carries one is checked against the running schema.
import { SidecarError, isSidecarError } from '../errors.js';
import type { Engine } from '../engine/cycle.js';
import type { Registry } from '../store/registry.js';
import { plainFromBody, type PlainWeights } from '../kernel/model.js';
import { ARCH_MLP, ACT_TANH, type ModelShape } from '../kernel/layout.js';

export interface FeatureSpec {
  name: string;
  type: 'f' | 'i' | 'b';
  min: number | null;
  max: number | null;
  scale: number;
}

/** What a model's inputs and outputs mean: travels as `metadata.layout`. */
export interface InputLayout {
  format: 'shadowpath-layout/1';
  d: number;
  k: number;
  features: FeatureSpec[];
  intents: string[];
}

/** The layout the running schema and intents give. */
export function runningLayout(engine: Engine): InputLayout {
  return { format: 'shadowpath-layout/1', d: engine.schema.dim, k: engine.intents.count, features: engine.schema.featureLayout(), intents: [...engine.intents.names] };
}

function shapeView(s: ModelShape) {
  return { architecture: s.arch === ARCH_MLP ? 'mlp' : 'linear', d: s.d, k: s.k, hidden: s.arch === ARCH_MLP ? s.h : 0, activation: s.arch === ARCH_MLP ? (s.activation === ACT_TANH ? 'tanh' : 'relu') : null };
}

function revisionOf(registry: Registry, version: unknown, revision: unknown): { version: string; revision: number } {
  if (typeof version !== 'string') throw new SidecarError('E_BAD_COMMAND', 'version must be a string');
  if (!registry.has(version)) throw new SidecarError('E_UNKNOWN_MODEL', `model ${version} is not registered`);
  if (revision === undefined) return { version, revision: registry.latestRevision(version) };
  if (!Number.isInteger(revision) || !registry.revisionInfo({ version, revision: revision as number })) {
    throw new SidecarError('E_UNKNOWN_MODEL', `model ${version} has no revision ${String(revision)} (revisions: ${registry.get(version)!.revisions.map((r) => r.revision).join(', ')})`);
  }
  return { version, revision: revision as number };
}

/**
 * The layout a stored model was registered with, or null: a model stored by
 * an older shadowpath, which kept no layout. Its layout is unknown, and the
 * running schema's is not stamped on it (its weights may have been learned
 * under another one).
 */
function storedLayout(metadata: Record<string, unknown>): InputLayout | null {
  const l = metadata.layout;
  if (typeof l === 'object' && l !== null && Array.isArray((l as InputLayout).features)) return l as InputLayout;
  return null;
}

export const UNKNOWN_LAYOUT_WARNING = 'this model was stored without its input layout (by an older shadowpath): its feature order, scaling and intents are unknown; only its dimensions are checked against the running schema';

/** GET_MODEL's `layout`: shape, feature order and scaling, intents, and the revision's running scales. */
export async function modelLayout(registry: Registry, _engine: Engine, version: unknown, revision?: unknown): Promise<Record<string, unknown>> {
  const ref = revisionOf(registry, version, revision);
  const layout = storedLayout(registry.get(ref.version)!.metadata);
  const known = layout
    ? { features: layout.features.map((f) => f.name), feature_specs: layout.features, intents: layout.intents, layout_source: 'registered' }
    : { features: null, feature_specs: null, intents: null, layout_source: 'unknown', warning: UNKNOWN_LAYOUT_WARNING };
  let p: { shape: ModelShape; scales: number[] };
  try {
    p = await revisionScales(registry, ref);
  } catch (e) {
    // A file damaged since start-up: GET_MODEL still answers, and says why the weights' part is missing.
    if (!isSidecarError(e, 'E_MODEL_FILE')) throw e;
    return { ...known, error: { code: e.code, message: e.message } };
  }
  return { ...shapeView(p.shape), ...known, scales_revision: ref.revision, scales: [...p.scales] };
}

// Revisions are immutable, so their shape and scales are read (and checked
// against their SHA-256) once: GET_MODEL is a cheap query beside cycles
// (the bench sends 130 a second), and a file read per call is not.
const CACHE_MAX = 256;
const scalesCache = new WeakMap<Registry, Map<string, { shape: ModelShape; scales: number[] }>>();

async function revisionScales(registry: Registry, ref: { version: string; revision: number }): Promise<{ shape: ModelShape; scales: number[] }> {
  let m = scalesCache.get(registry);
  if (!m) scalesCache.set(registry, (m = new Map()));
  const key = `${ref.version}.r${ref.revision}`;
  const hit = m.get(key);
  if (hit) return hit;
  const p = await registry.read(ref);
  const v = { shape: p.shape, scales: plainFromBody(p.shape, p.body).scales! };
  if (m.size >= CACHE_MAX) m.delete(m.keys().next().value!);
  m.set(key, v);
  return v;
}

/** EXPORT_MODEL: `{metadata, weights}`, to be sent back as REGISTER_MODEL's `metadata` and `weights`. */
export async function exportModel(registry: Registry, _engine: Engine, version: unknown, revision?: unknown): Promise<{ metadata: Record<string, unknown>; weights: PlainWeights; warning?: string }> {
  const ref = revisionOf(registry, version, revision);
  const p = await registry.read(ref);
  const entry = registry.get(ref.version)!;
  const info = registry.revisionInfo(ref)!;
  // Fields the registry writes itself are left out; the seed goes with the
  // weights, since a decision's exploration draw is a function of it.
  const { created_at: _c, revision_origin: _o, revision_created_at: _r, exported_from: _e, ...rest } = entry.metadata;
  const s = shapeView(p.shape);
  // A model without a stored layout is exported without one (and a warning):
  // the importer's REGISTER_MODEL then takes it as made for its running schema.
  const layout = storedLayout(entry.metadata);
  const metadata: Record<string, unknown> = {
    ...rest, version: ref.version, architecture: s.architecture, ...(s.architecture === 'mlp' ? { hidden: s.hidden, activation: s.activation } : {}),
    seed: p.seed >>> 0, ...(layout ? { layout } : {}),
    exported_from: { version: ref.version, revision: ref.revision, weights_sha256: info.weights_sha256 },
  };
  if (!layout) delete metadata.layout;
  return { metadata, weights: plainFromBody(p.shape, p.body), ...(layout ? {} : { warning: UNKNOWN_LAYOUT_WARNING }) };
}

const mismatch = (what: string, details: Record<string, unknown>): never => {
  throw new SidecarError('E_MODEL_LAYOUT', `the model's layout does not match the running schema: ${what}`, { mismatch: details });
};

const fmtRange = (f: FeatureSpec) => `${f.type} ${f.min ?? '-inf'}..${f.max ?? 'inf'} × ${f.scale}`;

/**
 * REGISTER_MODEL with `metadata.layout`: refuses a layout other than the
 * running one, naming the first difference. Without a layout nothing is
 * checked here (the weights' dimensions still are, E_MODEL_WEIGHTS).
 */
export function checkLayout(metadata: Record<string, unknown>, engine: Engine): void {
  if (metadata.layout === undefined) return;
  const l = metadata.layout as Partial<InputLayout>;
  if (typeof l !== 'object' || l === null || !Array.isArray(l.features) || !Array.isArray(l.intents)) {
    throw new SidecarError('E_BAD_COMMAND', 'metadata.layout must be an object {d, k, features: [...], intents: [...]} as EXPORT_MODEL gives it');
  }
  const run = runningLayout(engine);
  // A feature may be given by name alone (a hand-written layout): then only the name is checked.
  const nameOf = (f: unknown) => (typeof f === 'string' ? f : (f as FeatureSpec | null)?.name);
  const names = (fs: unknown[]) => fs.map(nameOf);
  if (l.features.length !== run.features.length) {
    mismatch(`${l.features.length} features in the model, ${run.features.length} in the running schema`, { field: 'features', model: names(l.features), running: names(run.features) });
  }
  run.features.forEach((f, i) => {
    const m = l.features![i] as FeatureSpec | string;
    if (nameOf(m) !== f.name) mismatch(`feature ${i} is "${String(nameOf(m))}" in the model, "${f.name}" in the running schema`, { field: 'features', index: i, model: names(l.features!), running: names(run.features) });
    if (typeof m === 'string') return;
    if (m.type !== f.type || m.min !== f.min || m.max !== f.max || m.scale !== f.scale) {
      mismatch(`feature "${f.name}" is ${fmtRange(m)} in the model, ${fmtRange(f)} in the running schema`, { field: 'feature', name: f.name, model: m, running: f });
    }
  });
  if (l.intents.length !== run.intents.length || l.intents.some((n, i) => n !== run.intents[i])) {
    const i = run.intents.findIndex((n, j) => l.intents![j] !== n);
    mismatch(`intents differ${i >= 0 ? ` at ${i}: "${String(l.intents[i])}" in the model, "${run.intents[i]}" running` : ` in number: ${l.intents.length} in the model, ${run.intents.length} running`}`,
      { field: 'intents', model: l.intents, running: run.intents });
  }
}
