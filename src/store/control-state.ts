// The persistent control state: what is active, what is candidate, the canary
// ratio, the rollback stack, the lockdown latch and the failure mode. One JSON
// file, <data>/state, replaced atomically; `version` grows with every change
// and is what a confirmation token is bound to.
import { readFile } from 'node:fs/promises';
import { SidecarError } from '../errors.js';
import { writeFileAtomic } from './atomic-file.js';
import type { FailureMode } from '../engine/types.js';

export interface ModelRef {
  version: string;
  revision: number;
}

export interface LockdownState {
  active: boolean;
  since: string | null;
  operator_id: string | null;
  reason: string | null;
}

/** A post-promotion watch: the previous production keeps a holdback arm of agents as a concurrent control. */
export interface WatchState {
  promoted: ModelRef;
  /** What served before the promotion: a model, or null for the rules policy. */
  previous: ModelRef | null;
  started_at: string;
  /** Salt of the per-agent holdback draw. */
  salt: number;
  holdback_ratio: number;
  /** Cycles the watch lasts. */
  cycles: number;
  forced: boolean;
}

export interface ControlState {
  format: 'shadowpath-state/1';
  version: number;
  active: ModelRef | null;
  candidate: ModelRef | null;
  canary_ratio: number;
  /** Salt of the per-agent canary draw, fixed when the candidate is set: an agent stays in its arm. */
  canary_salt: number;
  watch: WatchState | null;
  rollback_stack: ModelRef[];
  lockdown: LockdownState;
  failure: {
    /** Never LOCKDOWN: the latch is separate (HEARTBEAT shows LOCKDOWN while it is on). */
    mode: FailureMode;
    since: string | null;
    /** The failure that set the mode (and the incident written for it, when one was). */
    last_failure: { type: string; at: string; detail: string; incident_id?: string | null } | null;
    incident_count: number;
  };
}

export function initialState(): ControlState {
  return {
    format: 'shadowpath-state/1', version: 0, active: null, candidate: null, canary_ratio: 0, canary_salt: 0, watch: null, rollback_stack: [],
    lockdown: { active: false, since: null, operator_id: null, reason: null },
    failure: { mode: 'NORMAL', since: null, last_failure: null, incident_count: 0 },
  };
}

export async function loadState(path: string): Promise<ControlState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return initialState();
    throw e;
  }
  let s: ControlState;
  try {
    s = JSON.parse(text) as ControlState;
  } catch (e) {
    throw new SidecarError('E_DATA_CORRUPT', `the control state ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (s?.format !== 'shadowpath-state/1' || typeof s.version !== 'number' || typeof s.lockdown?.active !== 'boolean') {
    throw new SidecarError('E_DATA_CORRUPT', `the control state ${path} is not a shadowpath state file`);
  }
  // Files written before the canary salt and the watch existed.
  s.canary_salt ??= 0;
  s.watch ??= null;
  return s;
}

export async function saveState(path: string, s: ControlState): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(s, null, 2) + '\n');
}
