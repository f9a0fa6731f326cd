// Offline replay of an incident's state snapshot: the same engine, with no
// server and no data directory, the kernel on this thread, the recorded
// config, weights, agent stream, control view, clock and cycle id; learning
// paused so the snapshot's candidate weights (those it decided with) stay as
// they are. The decision must come out bit for bit the same.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { SidecarError } from '../errors.js';
import { Engine, INITIAL_VIEW } from '../engine/cycle.js';
import { unpack } from '../transport/codec.js';
import type { ModelParams } from '../kernel/model.js';
import type { CycleReply, ControlView } from '../engine/types.js';
import { snapshotPath, type IncidentReport, type Snapshot } from './incidents.js';

/** The reply fields a decision is made of (latency and ids aside). */
export const DECISION_FIELDS = ['intent', 'intent_params', 'confidence', 'policy_source', 'model_version', 'fallback_reason', 'failure_mode', 'propensity', 'explored', 'shadow'] as const;

export interface ReplayResult {
  incident_id: string;
  type: string;
  cycle_id: number;
  agent_id: string;
  match: boolean;
  differences: Array<{ field: string; recorded: unknown; replayed: unknown }>;
  recorded: Partial<CycleReply>;
  replayed: Partial<CycleReply>;
  /**
   * The recorded kernel failure (WORKER_CRASH, INFERENCE_TIMEOUT) that the
   * replay injected instead of running the kernel, or null: with one, a match
   * checks the fallback path, not a recomputed decision.
   */
  kernel_failure_reinjected: 'WORKER_CRASH' | 'INFERENCE_TIMEOUT' | null;
}

function pick(r: CycleReply): Partial<CycleReply> {
  const out: Record<string, unknown> = {};
  for (const f of DECISION_FIELDS) if (r[f] !== undefined) out[f] = r[f];
  return out as Partial<CycleReply>;
}

/** Deep equality where numbers must be the same double (NaN equals NaN, -0 differs from 0). */
function same(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Object.is(a, b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return a === b;
  const ka = Object.keys(a as object), kb = Object.keys(b as object);
  return ka.length === kb.length && ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function params(p: ModelParams | null): ModelParams | null {
  if (!p) return null;
  const raw = p.body as unknown as Uint8Array | Float32Array;
  const body = raw instanceof Float32Array ? raw : new Float32Array(new Uint8Array(raw).buffer);
  return { shape: p.shape, seed: p.seed, updates: p.updates, body };
}

export function readSnapshot(reportPath: string): { report: IncidentReport; snapshot: Snapshot } {
  let report: IncidentReport;
  let text: string;
  try {
    text = readFileSync(reportPath, 'utf8');
  } catch (e) {
    throw new SidecarError('E_NO_INCIDENT', `no incident report ${reportPath} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); ` +
      'reports are DATA_DIR/failures/incident_<uuid>.json, LIST_INCIDENTS lists them');
  }
  try {
    report = JSON.parse(text) as IncidentReport;
  } catch (e) {
    throw new SidecarError('E_CONFIG', `cannot read the incident report ${reportPath}: ${(e as Error).message}`);
  }
  const file = snapshotPath(reportPath, report);
  if (!file) throw new SidecarError('E_CONFIG', `incident ${report.incident_id} (${report.type}) has no cycle to replay`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new SidecarError('E_NO_INCIDENT', `the state snapshot ${file} of incident ${report.incident_id} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== report.state_snapshot!.sha256) throw new SidecarError('E_DATA_CORRUPT', `the snapshot ${file} does not match its SHA-256 in the report`);
  return { report, snapshot: unpack(bytes) as Snapshot };
}

export async function replay(reportPath: string): Promise<ReplayResult> {
  const { report, snapshot } = readSnapshot(reportPath);
  const c = snapshot.capture;
  // Learning frozen: the captured candidate weights are those after the
  // recorded batch's updates, which must not be applied a second time.
  const e = await Engine.create({ config: { ...snapshot.config, pool_threads: 0 }, clock: () => c.clock_ms, freezeLearning: true });
  try {
    if (c.production) await e.setModel('production', c.production_version!, params(c.production)!);
    if (c.candidate) await e.setModel('candidate', c.candidate_version!, params(c.candidate)!);
    if (c.holdback) await e.setModel('holdback', c.holdback_version!, params(c.holdback)!);
    // Snapshots written before the view existed carry {lockdown, mode, canaryRatio, learningPaused}.
    const v = c.control as Partial<ControlView> & { mode?: string };
    e.setView({ ...INITIAL_VIEW, ...v, mode: ((v.mode as string) === 'LOCKDOWN' ? 'NORMAL' : v.mode ?? 'NORMAL') as ControlView['mode'] });
    const prev = c.stream_before.prev ? { ...c.stream_before.prev, features: Float32Array.from(c.stream_before.prev.features as ArrayLike<number>) } : null;
    e.restoreForReplay(c.agent_id, prev, c.stream_before.last_ts ?? -Infinity, c.cycle_id, c.kernel);
    const r = await e.cycle(c.request);
    if (r.status !== 'OK') throw new SidecarError('E_INTERNAL', `the replayed cycle was refused: ${JSON.stringify(r)}`);
    const recorded = pick(c.reply), replayed = pick(r as CycleReply);
    const differences = DECISION_FIELDS.filter((f) => !same(recorded[f], replayed[f])).map((f) => ({ field: f, recorded: recorded[f], replayed: replayed[f] }));
    return { incident_id: report.incident_id, type: report.type, cycle_id: c.cycle_id, agent_id: c.agent_id, match: differences.length === 0, differences, recorded, replayed,
      kernel_failure_reinjected: c.kernel === 'OK' || c.kernel === undefined ? null : c.kernel };
  } finally {
    await e.close();
  }
}
