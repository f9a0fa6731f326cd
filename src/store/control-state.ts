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

export interface ControlState {
  format: 'shadowpath-state/1';
  version: number;
  active: ModelRef | null;
  candidate: ModelRef | null;
  canary_ratio: number;
  rollback_stack: ModelRef[];
  lockdown: LockdownState;
  failure: {
    /** Never LOCKDOWN: the latch is separate (HEARTBEAT shows LOCKDOWN while it is on). */
    mode: Exclude<FailureMode, 'LOCKDOWN'>;
    since: string | null;
    last_failure: { type: string; at: string; detail: string } | null;
    incident_count: number;
  };
}

export function initialState(): ControlState {
  return {
    format: 'shadowpath-state/1', version: 0, active: null, candidate: null, canary_ratio: 0, rollback_stack: [],
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
  return s;
}

export async function saveState(path: string, s: ControlState): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(s, null, 2) + '\n');
}
