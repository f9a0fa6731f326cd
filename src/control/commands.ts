// Command dispatch: authenticate, authorise, parse, run the two-step
// confirmation, ask the pure lifecycle for the transition, execute its effects
// (model files, engine, persisted state) and audit. Every command, accepted
// or not, becomes an audit record, and its reply carries that record's
// audit_seq and audit_hash. Mutating commands run one at a time.
import { SidecarError, ERROR_CODES, type ErrorCode } from '../errors.js';
import type { Engine } from '../engine/cycle.js';
import { initBody, bodyFromPlain, type ModelParams } from '../kernel/model.js';
import { ARCH_LINEAR, ARCH_MLP, ACT_RELU, ACT_TANH, type ModelShape } from '../kernel/layout.js';
import { mix32 } from '../kernel/reference.js';
import type { AuditLog } from '../audit/log.js';
import type { Registry } from '../store/registry.js';
import { saveState, type ControlState } from '../store/control-state.js';
import { ConfirmationTokens } from './confirm.js';
import { Operators } from './operators.js';
import { transition, needsConfirmation, type Command, type Effect } from './lifecycle.js';
import { evaluateGate, gateFigures, type GateConfig } from './gate.js';
import { checkLayout } from './model-io.js';
import { parseCommand, parseRegister, paramsOf, auditParams, READ_ONLY, MUTATING, type RegisterSpec } from './params.js';

export interface ControlConfig {
  canary_cap: number;
  token_ttl_s: number;
  /** UNRELEASE_LOCKDOWN and forced promotion must be confirmed by another operator. */
  two_person_rule: boolean;
  gate: GateConfig;
}

export type CommandReply = Record<string, unknown> & { status: 'OK' | 'REQUIRED_CONFIRMATION' | 'REJECTED' | 'ERROR' };

export interface ControlDeps {
  engine: Engine;
  registry: Registry;
  audit: AuditLog;
  statePath: string;
  state: ControlState;
  operators: Operators;
  config: ControlConfig;
  clock: () => number;
  /** Read-only queries answered by other parts (HEARTBEAT, LIST_INCIDENTS). */
  queries: Record<string, (req: Record<string, unknown>) => Promise<Record<string, unknown>> | Record<string, unknown>>;
  /** True while mutations must be refused (READ_ONLY_DISK). */
  readOnly?: () => boolean;
  /** A write of the control state or a model file failed. */
  onDiskError?: (e: Error) => void;
}

export class ControlPlane {
  state: ControlState;
  readonly tokens: ConfirmationTokens;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly d: ControlDeps) {
    this.state = d.state;
    this.tokens = new ConfirmationTokens(d.config.token_ttl_s * 1000, d.clock);
  }

  /** Handles one command request. Never rejects. */
  async handle(req: Record<string, unknown>, bearer?: string): Promise<CommandReply> {
    const type = typeof req.type === 'string' ? req.type : '';
    if (!READ_ONLY.has(type) && !MUTATING.has(type)) {
      return this.audited(req, null, fail('ERROR', 'E_UNKNOWN_COMMAND', `unknown command type "${type.slice(0, 64)}"`));
    }
    const auth = this.d.operators.authenticate(req.operator_id, req.auth ?? bearer);
    const anonymousHeartbeat = type === 'HEARTBEAT' && req.operator_id === undefined;
    if (!auth.ok && !anonymousHeartbeat) return this.audited(req, null, fail('REJECTED', 'E_AUTH', auth.message));
    const operator = auth.ok ? auth.operator : null;
    if (auth.ok && !Operators.allows(auth.role, type)) {
      return this.audited(req, operator, fail('REJECTED', 'E_AUTH', `role ${auth.role} may not run ${type}`));
    }
    if (READ_ONLY.has(type)) {
      try {
        return this.audited(req, operator, { status: 'OK', type, ...(await this.query(type, req)) });
      } catch (e) {
        return this.audited(req, operator, fromError(e));
      }
    }
    // PROTOCOL wants an operator_id on every mutating command, but the
    // runbook's own examples (REGISTER_MODEL, SET_CANDIDATE_MODEL,
    // SET_CANARY_RATIO) carry none, and users follow it word for word. So
    // without an operators file a missing operator_id is taken as
    // "anonymous" (and audited so); with one, authenticate() has already
    // refused it with E_AUTH.
    // Mutations run one at a time, in arrival order.
    const run = this.chain.then(() => this.mutate(type, req, operator!, auth.ok ? auth.role : 'viewer'));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async mutate(type: string, req: Record<string, unknown>, operator: string, role: string): Promise<CommandReply> {
    let cmd: Command;
    let reg: RegisterSpec | null = null;
    try {
      cmd = parseCommand(type, req);
      if (type === 'REGISTER_MODEL') reg = parseRegister(req);
    } catch (e) {
      return this.audited(req, operator, fromError(e));
    }
    if (this.d.readOnly?.() && type !== 'EMERGENCY_LOCKDOWN') {
      return this.audited(req, operator, fail('REJECTED', 'E_READ_ONLY', 'the data directory is read-only (READ_ONLY_DISK): mutations are refused until the disk is fixed and the failure status reset'));
    }
    if (cmd.type === 'PROMOTE_CANDIDATE' && cmd.force && role !== 'admin') {
      return this.audited(req, operator, fail('REJECTED', 'E_AUTH', 'force needs the admin role'));
    }
    const cap = this.d.config.canary_cap;
    const ctx = () => ({
      now: new Date(this.d.clock()).toISOString(), operator, canaryCap: cap,
      latestRevision: (v: string) => this.d.registry.latestRevision(v),
      gate: cmd.type === 'PROMOTE_CANDIDATE' ? evaluateGate(gateFigures(this.d.engine.shadow, this.d.config.gate), this.d.config.gate) : undefined,
    });
    const params = paramsOf(req);
    let step: 'request' | 'confirm' | undefined;
    if (needsConfirmation(cmd, cap)) {
      const twoPerson = this.d.config.two_person_rule && (cmd.type === 'UNRELEASE_LOCKDOWN' || (cmd.type === 'PROMOTE_CANDIDATE' && cmd.force));
      if (req.confirmation_token === undefined) {
        // Step one: refuse now what would be refused on confirmation.
        const t = transition(this.state, cmd, ctx());
        if (!t.ok) return this.audited(req, operator, fail(ERROR_CODES[t.code].status, t.code, t.message, t.details), 'request');
        const tok = this.tokens.issue(type, params, operator, this.state.version, twoPerson);
        return this.audited(req, operator, {
          status: 'REQUIRED_CONFIRMATION', type, confirmation_token: tok.token, expires_at: new Date(tok.expiresAt).toISOString(),
          operator_id: operator, summary: t.summary, ...(twoPerson ? { two_person_rule: 'another operator must confirm' } : {}),
        }, 'request');
      }
      const check = this.tokens.redeem(req.confirmation_token, type, params, operator, this.state.version);
      if (!check.ok) return this.audited(req, operator, fail('REJECTED', check.code, check.message), 'confirm');
      step = 'confirm';
    }
    const t = transition(this.state, cmd, ctx());
    if (!t.ok) return this.audited(req, operator, fail(ERROR_CODES[t.code].status, t.code, t.message, t.details), step);
    try {
      const result = await this.execute(t.effects, t.next, reg);
      return this.audited(req, operator, { status: 'OK', type, summary: t.summary, ...result }, step);
    } catch (e) {
      if (typeof (e as NodeJS.ErrnoException)?.code === 'string' && (e as NodeJS.ErrnoException).code!.startsWith('E') && !(e instanceof SidecarError)) this.d.onDiskError?.(e as Error);
      return this.audited(req, operator, fromError(e), step);
    }
  }

  /**
   * Runs the effects in order. The lockdown latch is applied to the engine
   * first (STOP at once), then made durable; other engine changes follow the
   * durable state, so a crash in between restarts into the persisted state.
   */
  private async execute(effects: Effect[], next: ControlState, reg: RegisterSpec | null): Promise<Record<string, unknown>> {
    const e = this.d.engine;
    const out: Record<string, unknown> = {};
    let frozen: ModelParams | null = null;
    for (const fx of effects) {
      if (fx.kind === 'set_lockdown' && fx.active) e.control.lockdown = true;
      if (fx.kind === 'write_registered') {
        const info = await this.register(reg!);
        Object.assign(out, { version: reg!.version, revision: info.revision, weights_sha256: info.weights_sha256 });
      }
      if (fx.kind === 'freeze_candidate') {
        frozen = await e.snapshotCandidate();
        if (!frozen) throw new SidecarError('E_NO_CANDIDATE', 'the candidate is not loaded');
        const md = this.d.registry.get(fx.into.version)!.metadata;
        const info = await this.d.registry.write(md, fx.into.revision, frozen, 'promoted', new Date(this.d.clock()).toISOString());
        Object.assign(out, { active_model: fx.into.version, revision: fx.into.revision, weights_sha256: info.weights_sha256 });
      }
    }
    if (effects.some((f) => f.kind === 'persist')) {
      await saveState(this.d.statePath, next);
      this.state = next;
    }
    for (const fx of effects) {
      switch (fx.kind) {
        case 'load_production': await e.setModel('production', fx.ref?.version ?? null, fx.ref ? (frozen ?? await this.d.registry.read(fx.ref)) : null); break;
        case 'load_candidate': await e.setModel('candidate', fx.ref?.version ?? null, fx.ref ? await this.d.registry.read(fx.ref) : null); break;
        case 'set_canary': e.control.canaryRatio = fx.ratio; break;
        case 'set_lockdown': e.control.lockdown = fx.active; break;
        case 'set_mode': e.control.mode = fx.mode; break;
        default: break;
      }
    }
    return out;
  }

  private async register(spec: RegisterSpec) {
    const e = this.d.engine;
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
      const rev = this.d.registry.latestRevision(from);
      if (rev < 0) throw new SidecarError('E_UNKNOWN_MODEL', `init.from: model ${from} is not registered`);
      const src = await this.d.registry.read({ version: from, revision: rev });
      if (src.shape.arch !== shape.arch || src.shape.h !== shape.h || src.shape.activation !== shape.activation || src.shape.d !== shape.d || src.shape.k !== shape.k) {
        throw new SidecarError('E_MODEL_SHAPE', `init.from: ${from} has another shape than the metadata asks for`);
      }
      body = src.body;
    } else body = initBody(shape, spec.init, seed);
    const now = new Date(this.d.clock()).toISOString();
    const metadata = { ...spec.metadata, version: spec.version, architecture: spec.architecture, created_at: now,
      ...(spec.architecture === 'mlp' ? { hidden: spec.hidden, activation: spec.activation } : {}) };
    return this.d.registry.write(metadata, 0, { shape, seed, updates: 0, body }, 'registered', now);
  }

  private async query(type: string, req: Record<string, unknown>): Promise<Record<string, unknown>> {
    const q = this.d.queries[type];
    if (!q) throw new SidecarError('E_UNKNOWN_COMMAND', `${type} is not available`);
    return q(req);
  }

  /** Appends the audit record of a command and stamps the reply with it. */
  private async audited(req: Record<string, unknown>, operator: string | null, reply: CommandReply, step?: 'request' | 'confirm'): Promise<CommandReply> {
    const type = typeof req.type === 'string' ? req.type.slice(0, 64) : null;
    const params = auditParams(paramsOf(req));
    const payload: Record<string, unknown> = { type, params, status: reply.status };
    if (step) payload.step = step;
    if (reply.error) payload.error = (reply.error as { code: string }).code;
    if (reply.summary) payload.summary = reply.summary;
    if (type === 'PROMOTE_CANDIDATE' && req.force === true && reply.status === 'OK') payload.forced = true;
    if (type === 'HEARTBEAT') delete payload.params;
    try {
      const rec = await this.d.audit.append('COMMAND', operator, payload);
      return { ...reply, audit_seq: rec.seq, audit_hash: rec.hash };
    } catch (e) {
      // The reply stands (a refusal stays a refusal, an effect that was made
      // stays made), but it could not be audited: say so.
      const err = fromError(e).error as { code: string; message: string };
      return { ...reply, audit_seq: null, audit_hash: null, audit_error: err };
    }
  }

  /** Applies an internal transition (failure manager) with persistence and audit. */
  async internal(cmd: Command, operator = 'system'): Promise<boolean> {
    const run = this.chain.then(async () => {
      const t = transition(this.state, cmd, { now: new Date(this.d.clock()).toISOString(), operator, canaryCap: this.d.config.canary_cap, latestRevision: (v) => this.d.registry.latestRevision(v) });
      if (!t.ok) return false;
      await this.execute(t.effects, t.next, null);
      await this.d.audit.append('TRANSITION', operator, { type: cmd.type, summary: t.summary });
      return true;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }
}

function fail(status: 'ERROR' | 'REJECTED', code: ErrorCode, message: string, details?: Record<string, unknown>): CommandReply {
  return { status, error: { code, message }, ...(details ? { details } : {}) };
}

function fromError(e: unknown): CommandReply {
  if (e instanceof SidecarError) return fail(e.status, e.code, e.message, e.details);
  const errno = (e as NodeJS.ErrnoException)?.code;
  if (typeof errno === 'string' && errno.startsWith('E')) return fail('REJECTED', 'E_DISK', `write failed (${errno}): ${(e as Error).message}`);
  return fail('ERROR', 'E_INTERNAL', (e as Error)?.message ?? String(e));
}
