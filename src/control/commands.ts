// Command dispatch and the one control state.
//
// An operator's command: authenticate, authorise, parse, run the two-step
// confirmation, ask the pure lifecycle for the transition, run its effects
// and audit. Every command, accepted or not, becomes an audit record, and
// its reply carries that record's audit_seq and audit_hash. Mutating
// commands run one at a time.
//
// The system's own actions (containment, SAFE_MODE expiry, the canary's
// abort, the watch's automatic rollback) are commands of the operator
// "system" through the same transition function (`system()`), audited as
// such.
//
// `state` is the only copy of the control state. A transition replaces it at
// once (synchronously) and the engine's view with it, so HEARTBEAT, cycle
// replies and the engine agree at every instant; then the state is written
// (atomic file), and an operator's reply leaves only once it is durable.
// Every model file a transition names is read and checked (SHA-256, shape,
// weights, layout) before the state is committed: a file that fails is a
// refusal with nothing changed (src/control/preload.ts). Model loads follow
// the durable state, so a crash in between restarts into what was
// persisted; a load that still fails then (or in a system transition, which
// cannot be refused) unloads the role and is reported as the failure
// MODEL_LOAD_FAILURE (SAFE_MODE, an incident), never swallowed. A reader may
// see a mutation a moment before its acknowledgement, never after it.
import { SidecarError, isSidecarError } from '../errors.js';
import type { Engine } from '../engine/cycle.js';
import type { ModelParams } from '../kernel/model.js';
import type { AuditLog } from '../audit/log.js';
import type { Registry } from '../store/registry.js';
import { saveState, type ControlState } from '../store/control-state.js';
import { ConfirmationTokens } from './confirm.js';
import { Operators } from './operators.js';
import type { ConnInfo } from '../transport/conn-info.js';
import { transition, needsConfirmation, type Command, type Effect, type LifecycleContext } from './lifecycle.js';
import type { ControlConfig } from './config.js';
import { gateVerdict } from './evidence.js';
import { viewOf } from './view.js';
import { registerModel } from './register.js';
import { readLoadable, preloadEffects, unreadEffects, refKey, type Preloaded } from './preload.js';
import { parseCommand, parseRegister, paramsOf, READ_ONLY, MUTATING, type RegisterSpec } from './params.js';
import { auditCommand, fail, fromError, isDiskError, type CommandReply } from './replies.js';

export type { CommandReply };

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
  /** A write of the control state or a model file failed. */
  onDiskError?: (e: Error) => void;
  /** A model the committed state names could not be loaded (the role is left empty). */
  onLoadError?: (detail: string) => void;
}

type LoadFx = Extract<Effect, { kind: 'load' }>;

export class ControlPlane {
  /** The control state: the only copy, replaced only by `commit` (a transition's next state). */
  private current: ControlState;
  get state(): ControlState { return this.current; }
  readonly tokens: ConfirmationTokens;
  private chain: Promise<unknown> = Promise.resolve();
  /** Writes of the state, one at a time, each of the latest state. */
  private writes: Promise<void> = Promise.resolve();
  private durableVersion: number;
  /** The failure mode in the state file (never READ_ONLY_DISK). */
  private persistedMode: ControlState['failure']['mode'];
  /** Model loads into the engine, in transition order. */
  private loads: Promise<void> = Promise.resolve();
  /** The system transitions' writes, loads and audit records still under way. */
  private background: Promise<void> = Promise.resolve();

  constructor(private readonly d: ControlDeps) {
    this.current = d.state;
    this.durableVersion = d.state.version;
    this.persistedMode = d.state.failure.mode === 'READ_ONLY_DISK' ? 'NORMAL' : d.state.failure.mode;
    this.tokens = new ConfirmationTokens(d.config.token_ttl_s * 1000, d.clock);
    d.engine.setView(viewOf(d.state));
  }

  /** True while the data directory refuses writes (READ_ONLY_DISK): mutations are refused. */
  get readOnly(): boolean {
    return this.state.failure.mode === 'READ_ONLY_DISK';
  }

  /** Handles one command request. Never rejects. */
  async handle(req: Record<string, unknown>, bearer?: string, conn?: ConnInfo): Promise<CommandReply> {
    const type = typeof req.type === 'string' ? req.type : '';
    if (!READ_ONLY.has(type) && !MUTATING.has(type)) {
      return this.audited(req, null, fail('E_UNKNOWN_COMMAND', `unknown command type "${type.slice(0, 64)}"`));
    }
    // "system" is the sidecar's own operator (containment, the watch): no request may speak as it.
    if (typeof req.operator_id === 'string' && /^system(:|$)/i.test(req.operator_id)) {
      return this.audited(req, null, fail('E_AUTH', 'operator_id "system" is reserved for the sidecar\'s own actions'));
    }
    const auth = this.d.operators.authenticate(req.operator_id, req.auth ?? bearer, conn?.remoteAddress);
    const anonymousHeartbeat = type === 'HEARTBEAT' && req.operator_id === undefined;
    if (!auth.ok && !anonymousHeartbeat) return this.audited(req, null, fail(auth.code, auth.message));
    const operator = auth.ok ? auth.operator : null;
    if (auth.ok && !Operators.allows(auth.role, type)) {
      return this.audited(req, operator, fail('E_AUTH', `role ${auth.role} may not run ${type}`));
    }
    if (READ_ONLY.has(type)) {
      try {
        return this.audited(req, operator, { status: 'OK', type, ...(await this.query(type, req)) });
      } catch (e) {
        return this.audited(req, operator, fromError(e));
      }
    }
    // The contract wants an operator_id on every mutating command, but the
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

  private context(operator: string, cmd: Command): LifecycleContext {
    return {
      now: new Date(this.d.clock()).toISOString(), operator, canaryCap: this.d.config.canary_cap,
      latestRevision: (v: string) => this.d.registry.latestRevision(v),
      gate: cmd.type === 'PROMOTE_CANDIDATE' && !cmd.force ? gateVerdict(this.d.engine, this.state.canary_ratio, this.d.config.gate) : undefined,
      watch: this.d.config.watch,
    };
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
    if (this.readOnly && type !== 'EMERGENCY_LOCKDOWN' && type !== 'RESET_FAILURE_STATUS') {
      return this.audited(req, operator, fail('E_READ_ONLY', 'the data directory is read-only (READ_ONLY_DISK): mutations are refused until the disk is fixed and the failure status reset'));
    }
    if (cmd.type === 'PROMOTE_CANDIDATE' && cmd.force && role !== 'admin') {
      return this.audited(req, operator, fail('E_AUTH', 'force needs the admin role'));
    }
    const cap = this.d.config.canary_cap;
    const params = paramsOf(req);
    let step: 'request' | 'confirm' | undefined;
    if (needsConfirmation(cmd, cap)) {
      const twoPerson = this.d.config.two_person_rule && (cmd.type === 'UNRELEASE_LOCKDOWN' || (cmd.type === 'PROMOTE_CANDIDATE' && cmd.force));
      if (req.confirmation_token === undefined) {
        // Step one: refuse now what would be refused on confirmation.
        const c1 = this.context(operator, cmd);
        const t = transition(this.state, cmd, c1);
        if (!t.ok) return this.audited(req, operator, fail(t.code, t.message, t.details), 'request');
        try {
          await preloadEffects(this.d.registry, this.d.engine, t.effects, null); // a damaged file or another layout: refused now, not at confirmation
        } catch (e) {
          return this.audited(req, operator, fromError(e), 'request');
        }
        const tok = this.tokens.issue(type, params, operator, this.state.version, twoPerson);
        const gate = gateOf(cmd, c1);
        return this.audited(req, operator, {
          status: 'REQUIRED_CONFIRMATION', type, confirmation_token: tok.token, expires_at: new Date(tok.expiresAt).toISOString(),
          operator_id: operator, summary: t.summary, ...(twoPerson ? { two_person_rule: 'another operator must confirm' } : {}),
          ...(gate ? { details: { gate } } : {}),
        }, 'request');
      }
      const check = this.tokens.redeem(req.confirmation_token, type, params, operator, this.state.version);
      if (!check.ok) return this.audited(req, operator, fail(check.code, check.message), 'confirm');
      step = 'confirm';
    }
    const ctx = this.context(operator, cmd);
    // The transition is decided on the state it will replace: after every
    // await, a state the system changed meanwhile (a lockdown, a failure
    // mode, a rollback) is decided on again, never overwritten.
    let decide = () => transition(this.state, cmd, this.context(operator, cmd));
    let decidedOn = this.state;
    let t = transition(decidedOn, cmd, ctx);
    if (!t.ok) return this.audited(req, operator, fail(t.code, t.message, t.details), step);
    try {
      const out: Record<string, unknown> = {};
      // Files first (a registered model, a frozen revision): the state that
      // refers to them is written after them.
      let frozen: ModelParams | null = null;
      // Every stored model the transition loads, read and checked before
      // anything is written: a failure here is a refusal with nothing changed.
      const loads = await preloadEffects(this.d.registry, this.d.engine, t.effects, null);
      for (const fx of t.effects) {
        if (fx.kind === 'write_registered') {
          const info = await registerModel(reg!, this.d.engine, this.d.registry, this.d.clock);
          Object.assign(out, { version: reg!.version, revision: info.revision, weights_sha256: info.weights_sha256 });
        }
        if (fx.kind === 'freeze_candidate') {
          frozen = await this.d.engine.snapshotCandidate();
          if (!frozen) throw new SidecarError('E_NO_CANDIDATE', 'the candidate is not loaded');
          const md = this.d.registry.get(fx.into.version)!.metadata;
          const info = await this.d.registry.write(md, fx.into.revision, frozen, 'promoted', new Date(this.d.clock()).toISOString());
          Object.assign(out, { active_model: fx.into.version, revision: fx.into.revision, weights_sha256: info.weights_sha256 });
          // The system may have changed the state while the files were
          // written (a lockdown, a failure mode): decide again on the
          // current state, for the revision just written.
          // The gate is asked again too: the evidence may have changed meanwhile
          // (a canary aborted while the file was written).
          const into = fx.into;
          decide = () => transition(this.state, cmd, { ...this.context(operator, cmd), latestRevision: (v) => (v === into.version ? into.revision - 1 : this.d.registry.latestRevision(v)) });
          decidedOn = this.state;
          t = decide();
          if (!t.ok) return this.audited(req, operator, fail(t.code, t.message, t.details), step);
        }
      }
      // Until the decision is on the current state and every file it loads
      // is read (the frozen revision, what a new decision added). From the
      // last check to the commit nothing awaits.
      for (let round = 0; ; round++) {
        if (this.state !== decidedOn) {
          decidedOn = this.state;
          t = decide();
          if (!t.ok) return this.audited(req, operator, fail(t.code, t.message, t.details), step);
        }
        const todo = unreadEffects(this.d.registry, this.d.engine, t.effects, frozen, loads);
        if (todo.length === 0) break;
        if (round >= 16) throw new SidecarError('E_INTERNAL', 'the control state kept changing while the model files of this command were read; nothing was changed, try again');
        for (const ref of todo) loads.set(refKey(ref), await readLoadable(this.d.registry, this.d.engine, ref));
      }
      if (t.effects.some((f) => f.kind === 'persist')) await this.commitDurably(t.next);
      await this.runLoads(t.effects, loads);
      const gate = gateOf(cmd, ctx);
      return this.audited(req, operator, { status: 'OK', type, summary: t.summary, ...out, ...(gate ? { details: { gate } } : {}) }, step);
    } catch (e) {
      if (isDiskError(e)) this.d.onDiskError?.(e as Error);
      return this.audited(req, operator, fromError(e), step);
    }
  }

  /** Replaces the one state, and the engine's view with it, at once. */
  private commit(next: ControlState): void {
    this.current = next;
    this.d.engine.setView(viewOf(next));
  }

  /** Writes the latest state (one write at a time); resolves once `version` is on disk. */
  private persist(version: number): Promise<void> {
    const w = this.writes.then(async () => {
      if (this.durableVersion >= version) return;
      const snap = this.state;
      // READ_ONLY_DISK is a fact about this process's disk, kept in memory
      // only: a restart on a healthy disk starts in the mode written before.
      const onDisk = snap.failure.mode === 'READ_ONLY_DISK' ? { ...snap, failure: { ...snap.failure, mode: this.persistedMode } } : snap;
      await saveState(this.d.statePath, onDisk);
      this.durableVersion = snap.version;
      this.persistedMode = onDisk.failure.mode;
    });
    this.writes = w.catch(() => undefined);
    return w;
  }

  /**
   * An operator's transition: in effect at once, acknowledged once durable.
   * When the write fails, the state goes back to what it was (if nothing
   * else changed it meanwhile), so a refusal means nothing happened.
   */
  private async commitDurably(next: ControlState): Promise<void> {
    const before = this.state;
    this.commit(next);
    try {
      await this.persist(next.version);
    } catch (e) {
      // Safety first: a lockdown the disk refused stays in effect in memory
      // (every cycle STOP; HEARTBEAT shows it), and the reply says it is not
      // durable. Anything else goes back to what it was.
      const latchedNow = next.lockdown.active && !before.lockdown.active;
      if (this.state === next && !latchedNow) this.commit(before);
      else if (!latchedNow) {
        // The system changed the state on top of this one meanwhile: it cannot
        // be taken back alone. Say so rather than claim nothing happened.
        this.d.onDiskError?.(e as Error);
        throw new SidecarError('E_DISK', `the change is in effect in memory but could not be made durable (another transition followed it): it will not survive a restart (${(e as Error).message})`);
      }
      if (latchedNow) {
        this.d.onDiskError?.(e as Error);
        throw new SidecarError('E_DISK', `the lockdown is in effect in memory (every cycle STOP) but could not be made durable: it will not survive a restart (${(e as Error).message})`);
      }
      throw e;
    }
  }

  /**
   * Loads the models a transition named into the engine, in order, after the
   * state is committed (an operator's: durable). A model that fails to load
   * (the system's transitions are not read ahead; a pre-read one may still
   * not fit the kernel memory) leaves its role empty rather than serving a
   * model the state does not name, and is reported (onLoadError: the failure
   * MODEL_LOAD_FAILURE); the other loads still run. Rejects with the first
   * such error.
   */
  private runLoads(effects: Effect[], pre: Preloaded | null): Promise<void> {
    const todo = effects.filter((f): f is LoadFx => f.kind === 'load');
    if (todo.length === 0) return Promise.resolve();
    const run = this.loads.then(async () => {
      let first: SidecarError | null = null;
      for (const fx of todo) {
        try {
          const params = fx.ref ? (pre?.get(refKey(fx.ref)) ?? await readLoadable(this.d.registry, this.d.engine, fx.ref)) : null;
          await this.d.engine.setModel(fx.role, fx.ref?.version ?? null, params);
        } catch (e) {
          await this.d.engine.setModel(fx.role, null, null).catch(() => undefined);
          const err = e as SidecarError;
          const detail = `${fx.role} ${fx.ref ? `${fx.ref.version} revision ${fx.ref.revision}` : '(none)'} named by the control state could not be loaded (${err.code ?? 'E_INTERNAL'}: ${err.message}); the ${fx.role} role is left empty`;
          this.d.onLoadError?.(detail);
          first ??= new SidecarError(isSidecarError(e) ? e.code : 'E_INTERNAL', `the change is in effect, but ${detail}: failure MODEL_LOAD_FAILURE (SAFE_MODE, an incident)`);
        }
      }
      if (first) throw first;
    });
    this.loads = run.catch(() => undefined);
    return run;
  }

  /**
   * The system's own transition (operator "system"): in effect at once,
   * synchronously — the cycle that caused it is answered under it — then
   * written, loaded and audited in the background. Returns the summary, or
   * null when the lifecycle refused it.
   */
  system(cmd: Command, operator = 'system'): { summary: string; done: Promise<void> } | null {
    const t = transition(this.state, cmd, { now: new Date(this.d.clock()).toISOString(), operator, canaryCap: this.d.config.canary_cap, latestRevision: (v) => this.d.registry.latestRevision(v), watch: this.d.config.watch });
    if (!t.ok) return null;
    this.commit(t.next);
    const version = t.next.version;
    // Entering READ_ONLY_DISK writes nothing: the disk just refused a write.
    const write = !(t.next.failure.mode === 'READ_ONLY_DISK' && cmd.type === 'FAILURE');
    const done = (async () => {
      try {
        if (write) await this.persist(version);
      } catch (e) {
        // READ_ONLY_DISK keeps the state in memory only; report the first error.
        if (!this.readOnly) this.d.onDiskError?.(e as Error);
      }
      // A load that fails was reported by runLoads (MODEL_LOAD_FAILURE): not swallowed.
      await this.runLoads(t.effects, null).catch(() => undefined);
      await this.d.audit.append('TRANSITION', operator, { type: cmd.type, summary: t.summary }).catch(() => undefined);
    })();
    this.background = this.background.then(() => done);
    return { summary: t.summary, done };
  }

  /** Resolves once every state write and model load issued so far is done. */
  async settled(): Promise<void> {
    await this.chain;
    await this.background;
    await this.writes;
    await this.loads;
  }

  private async query(type: string, req: Record<string, unknown>): Promise<Record<string, unknown>> {
    const q = this.d.queries[type];
    if (!q) throw new SidecarError('E_UNKNOWN_COMMAND', `${type} is not available`);
    return q(req);
  }

  /** Appends the audit record of a command and stamps the reply with it. */
  private audited(req: Record<string, unknown>, operator: string | null, reply: CommandReply, step?: 'request' | 'confirm'): Promise<CommandReply> {
    return auditCommand(this.d.audit, req, operator, reply, step);
  }
}

/** The gate verdict a PROMOTE_CANDIDATE was decided on, for its reply. */
function gateOf(cmd: Command, ctx: LifecycleContext): unknown {
  if (cmd.type !== 'PROMOTE_CANDIDATE') return null;
  return cmd.force ? { forced: true, pass: null, reason: 'force: the gate was skipped (audited as forced)' } : ctx.gate ?? null;
}
