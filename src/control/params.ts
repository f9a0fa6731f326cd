// Parsing and checking command parameters: raw request object → typed
// command, or E_BAD_COMMAND naming the bad parameter.
import { SidecarError } from '../errors.js';
import type { PlainWeights } from '../kernel/model.js';
import type { Command } from './lifecycle.js';

export const ENVELOPE_KEYS = new Set(['type', 'operator_id', 'confirmation_token', 'auth']);

export const READ_ONLY = new Set(['HEARTBEAT', 'LIST_MODELS', 'GET_MODEL', 'LIST_INCIDENTS', 'VERIFY_AUDIT', 'EXPORT_MODEL']);
export const MUTATING = new Set(['REGISTER_MODEL', 'SET_CANDIDATE_MODEL', 'SET_CANARY_RATIO', 'PROMOTE_CANDIDATE', 'ROLLBACK_MODEL',
  'EMERGENCY_LOCKDOWN', 'UNRELEASE_LOCKDOWN', 'RESET_FAILURE_STATUS', 'END_WATCH']);

export interface RegisterSpec {
  version: string;
  architecture: 'linear' | 'mlp';
  hidden: number;
  activation: 'relu' | 'tanh';
  seed: number | null;
  init: 'zeros' | 'random' | { from: string };
  weights: PlainWeights | null;
  metadata: Record<string, unknown>;
}

const bad = (msg: string): never => { throw new SidecarError('E_BAD_COMMAND', msg); };

function str(v: unknown, name: string, max = 256): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) bad(`${name} must be a non-empty string of at most ${max} characters`);
  return v as string;
}

function bool(v: unknown, name: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') bad(`${name} must be true or false`);
  return v as boolean;
}

/** The parameters of a command: everything but the envelope. */
export function paramsOf(req: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(req)) if (!ENVELOPE_KEYS.has(k)) out[k] = v;
  return out;
}

export function parseRegister(req: Record<string, unknown>): RegisterSpec {
  const md = req.metadata;
  if (typeof md !== 'object' || md === null || Array.isArray(md)) bad('metadata must be an object with at least a version');
  const m = md as Record<string, unknown>;
  const version = str(m.version, 'metadata.version', 200);
  const architecture = m.architecture === undefined ? 'linear' : m.architecture;
  if (architecture !== 'linear' && architecture !== 'mlp') bad('metadata.architecture must be "linear" or "mlp"');
  const hidden = m.hidden === undefined ? 32 : m.hidden;
  if (!Number.isInteger(hidden) || (hidden as number) < 1 || (hidden as number) > 1024) bad('metadata.hidden must be an integer in 1..1024');
  const activation = m.activation === undefined ? 'relu' : m.activation;
  if (activation !== 'relu' && activation !== 'tanh') bad('metadata.activation must be "relu" or "tanh"');
  const seed = m.seed === undefined ? null : m.seed;
  if (seed !== null && (!Number.isInteger(seed) || (seed as number) < 0 || (seed as number) > 0xffffffff)) bad('metadata.seed must be an integer in 0..2^32-1');
  let init: RegisterSpec['init'] = architecture === 'mlp' ? 'random' : 'zeros';
  if (req.init !== undefined) {
    if (req.init === 'zeros' || req.init === 'random') init = req.init;
    else if (typeof req.init === 'object' && req.init !== null && typeof (req.init as { from?: unknown }).from === 'string') init = { from: (req.init as { from: string }).from };
    else bad('init must be "zeros", "random" or {"from": "<version>"}');
  }
  let weights: PlainWeights | null = null;
  if (req.weights !== undefined) {
    if (req.init !== undefined) bad('give either init or weights, not both');
    if (typeof req.weights !== 'object' || req.weights === null || Array.isArray(req.weights)) bad('weights must be an object {w1, b1, w2?, b2?, scales?}');
    weights = req.weights as PlainWeights;
  }
  return { version, architecture: architecture as RegisterSpec['architecture'], hidden: hidden as number, activation: activation as RegisterSpec['activation'], seed: seed as number | null, init, weights, metadata: m };
}

/** The lifecycle command of a mutating request (REGISTER_MODEL's model spec is parsed separately). */
export function parseCommand(type: string, req: Record<string, unknown>): Command {
  switch (type) {
    case 'REGISTER_MODEL': return { type, version: parseRegister(req).version };
    case 'SET_CANDIDATE_MODEL': return { type, version: str(req.version, 'version', 200) };
    case 'SET_CANARY_RATIO': {
      const r = req.ratio;
      if (typeof r !== 'number' || !Number.isFinite(r) || r < 0 || r > 1) bad('ratio must be a number in [0, 1]');
      return { type, ratio: r as number, bypass_safety_cap: bool(req.bypass_safety_cap, 'bypass_safety_cap') };
    }
    case 'PROMOTE_CANDIDATE': return { type, force: bool(req.force, 'force') };
    case 'ROLLBACK_MODEL': return { type };
    case 'EMERGENCY_LOCKDOWN': return { type, reason: req.reason === undefined ? null : str(req.reason, 'reason', 500) };
    case 'UNRELEASE_LOCKDOWN': return { type };
    case 'RESET_FAILURE_STATUS': return { type };
    case 'END_WATCH': return { type };
    default: throw new SidecarError('E_UNKNOWN_COMMAND', `unknown command type "${type.slice(0, 64)}"`);
  }
}

/** Parameters as they go into the audit: no secrets, inline weights replaced by their size. */
export function auditParams(params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...params };
  if (out.weights !== undefined) out.weights = '[inline weights omitted; see the model file and its SHA-256]';
  return out;
}
