// The engine: cycles in, intents out, learning on the way.
//
// A cycle is parsed and checked on arrival, then queued. Queued cycles leave
// in micro-batches: one batch is in the kernel at a time; every cycle that
// arrives meanwhile waits for the next batch, which leaves as soon as the
// current one is answered (or at the end of the current tick when the kernel
// is idle). So batches grow with load and a lone cycle pays one round trip.
//
// One batch at a time is deliberate: the candidate learns from each batch's
// experiences before it decides that batch, and the next batch's experiences
// close the decisions of this one. Serial batches make the learning sequence,
// and so every decision, a function of the cycle order alone, which is what
// lets an incident be replayed. A batch never holds two cycles of one agent
// (the second closes the first's decision, which must be known first).
//
// Model swaps, canary changes and snapshots run on a control queue that is
// drained between batches, never while a worker reads the memory.
import { engineConfig, type EngineConfig, type EngineConfigInput } from './config.js';
import { pad4 } from '../kernel/layout.js';
import { BatchSlot } from './batch-slot.js';
import { Intake } from './intake.js';
import { Settler } from './settle.js';
import { Ledger } from './ledger.js';
import { AgentStreams, VectorPool, err, type Pending } from './pending.js';
import type { ModelParams } from '../kernel/model.js';
import { KernelPool } from '../pool/pool.js';
import type { BatchOutcome, BatchTask } from '../pool/messages.js';
import { StateSchema } from './state-schema.js';
import { Intents } from './intents.js';
import { SafetyRules } from './safety.js';
import { RulesPolicy } from './rules-policy.js';
import { Arms } from './arms.js';
import { closeExperience, MemoryQuarantine, type LoggedDecision, type QuarantineSink } from './experience.js';
import type { Outcome } from './reward.js';
import type { DecisionDeps } from './decision.js';
import { loadResident, unloadResident, snapshotResident, type ResidentModel } from './models.js';
import { EngineStats } from './stats.js';
import { ShadowStats } from './shadow.js';
import { Monitor } from '../monitor/metrics.js';
import type { CycleCapture, CycleReply, ControlView, ErrorReply, FailureEvent } from './types.js';

export interface EngineOptions {
  config?: EngineConfigInput;
  quarantine?: QuarantineSink;
  onFailure?: (e: FailureEvent) => void;
  /** Wall clock in ms since the epoch (injected for tests and replay). */
  clock?: () => number;
  /** Whether a failure of this type should carry a capture (weights copied); default always. */
  wantsCapture?: (type: FailureEvent['type']) => boolean;
  allowFaultInjection?: boolean;
  /** Error of the evidence bounds (the gate's alpha): each side of each arm's confidence sequences at alpha/2. */
  evidenceAlpha?: number;
  /** Never learn (offline replay: captured weights already carry the batch's updates). */
  freezeLearning?: boolean;
}

/** The view before the control plane sets one: nothing granted, nothing locked. */
export const INITIAL_VIEW: ControlView = { version: 0, lockdown: false, mode: 'NORMAL', canaryRatio: 0, canarySalt: 0, watch: null };

export class Engine {
  readonly config: EngineConfig;
  readonly schema: StateSchema;
  readonly intents: Intents;
  readonly safety: SafetyRules;
  readonly rules: RulesPolicy;
  readonly pool: KernelPool;
  readonly stats: EngineStats;
  /** Sliding-window metrics (HEARTBEAT's monitoring section, alerts). */
  readonly monitor: Monitor;
  /** The candidate's shadow record since it was set (the promotion gate's evidence). */
  shadow: ShadowStats;
  /** Grows with every candidate change, so experiences logged under another candidate are not credited to this one. */
  private candEpoch = 0;
  readonly quarantine: QuarantineSink;
  /** Per-agent arms (canary, incumbent, holdback) and their evidence. */
  readonly arms: Arms;
  private ctl: ControlView = INITIAL_VIEW;
  private readonly deps: DecisionDeps;
  private readonly dp: number;
  private readonly slot: BatchSlot;
  private readonly clock: () => number;
  private readonly onFailure: (e: FailureEvent) => void;
  private readonly wantsCapture: (t: FailureEvent['type']) => boolean;
  private readonly agents: AgentStreams;
  private readonly intake: Intake;
  private readonly settler: Settler;
  private readonly ledger: Ledger;
  private queue: Pending[] = [];
  private head = 0;
  private ops: Array<() => void> = [];
  private inFlight = false;
  private pumpScheduled = false;
  private epoch = 0;
  private nextCycleId = 1;
  private prod: ResidentModel | null = null;
  private cand: ResidentModel | null = null;
  /** The previous production during a post-promotion watch (never learns; its outputs use the candidate columns). */
  private hold: ResidentModel | null = null;
  private closed = false;
  /** Honour a cycle's `__fault` (tests only; the pool ignores a fault otherwise). */
  private readonly allowFaults: boolean;
  /**
   * Set once a cycle carrying a test fault is admitted: only then does a
   * dispatch look through its rows for one (a production engine never does).
   */
  private faultAdmitted = false;
  /** Per experience row of the batch in flight: 0 an outcome, 1 safety shaping. */
  private readonly expKind: Uint8Array;
  private readonly shapingReward: number;
  private pendingCapture: { type: FailureEvent['type']; detail: string } | null = null;
  private replayKernelFailure: 'WORKER_CRASH' | 'INFERENCE_TIMEOUT' | null = null;
  private readonly features: VectorPool;
  private readonly evidenceAlpha: number;
  private readonly freezeLearning: boolean;
  private readonly outcome: Outcome = { alive: true, violation: false, blocked: false, wasted: false, dealt: 0, received: 0 };

  private constructor(opts: EngineOptions) {
    this.config = engineConfig(opts.config);
    this.schema = new StateSchema(this.config.schema);
    this.intents = new Intents(this.config.intents);
    this.safety = new SafetyRules(this.config.safety_rules, this.schema, this.intents);
    this.rules = new RulesPolicy(this.config.rules_policy, this.schema, this.intents);
    this.quarantine = opts.quarantine ?? new MemoryQuarantine();
    this.clock = opts.clock ?? Date.now;
    this.onFailure = opts.onFailure ?? (() => {});
    this.wantsCapture = opts.wantsCapture ?? (() => true);
    this.stats = new EngineStats(this.intents.names);
    const ex = this.config.exploration;
    this.deps = {
      intents: this.intents, safety: this.safety, rules: this.rules, epsilon: ex.epsilon, seed: ex.seed,
      minConfidence: this.config.min_confidence, sampling: ex.mode === 'softmax',
    };
    this.pool = new KernelPool({
      threads: this.config.pool_threads, batchTimeoutMs: this.config.batch_timeout_ms,
      stealAfterUs: this.config.pool_steal_us, allowFaultInjection: opts.allowFaultInjection,
    });
    this.allowFaults = opts.allowFaultInjection === true;
    this.evidenceAlpha = opts.evidenceAlpha ?? 0.05;
    this.freezeLearning = opts.freezeLearning === true;
    this.shadow = this.newShadow();
    this.arms = new Arms(this.config.shadow_window, this.evidenceAlpha, this.config.reward.clip);
    this.monitor = new Monitor(this.config.shadow_window, this.intents.names);
    this.dp = pad4(this.schema.dim);
    this.features = new VectorPool(this.dp);
    this.expKind = new Uint8Array(this.config.max_batch * (1 + this.intents.count));
    this.shapingReward = Math.max(-this.config.reward.clip, Math.min(this.config.reward.clip, this.config.reward.violation));
    this.agents = new AgentStreams(this.config.max_agents, this.features);
    this.intake = new Intake({
      schema: this.schema, safety: this.safety, rules: this.rules, features: this.features, agents: this.agents,
      staleAfterS: this.config.stale_after_s, clock: this.clock,
    });
    this.slot = new BatchSlot(this.pool, this.config.max_batch, this.dp, this.intents.count);
    this.ledger = new Ledger({
      config: this.config, stats: this.stats, monitor: this.monitor, arms: this.arms, quarantine: this.quarantine, clock: this.clock,
      outcome: this.outcome, shadow: () => this.shadow, candEpoch: () => this.candEpoch,
    });
    this.settler = new Settler({
      config: this.config, intents: this.intents, deps: this.deps, stats: this.stats, monitor: this.monitor, arms: this.arms,
      pool: this.pool, slot: this.slot, features: this.features, expKind: this.expKind, onFailure: this.onFailure, wantsCapture: this.wantsCapture,
      residents: () => ({ prod: this.prod, cand: this.cand, hold: this.hold }), view: () => this.ctl, shadow: () => this.shadow, candEpoch: () => this.candEpoch,
    });
  }

  static async create(opts: EngineOptions = {}): Promise<Engine> {
    const e = new Engine(opts);
    await e.pool.warm();
    return e;
  }

  get productionVersion(): string | null { return this.prod?.version ?? null; }
  get holdbackVersion(): string | null { return this.hold?.version ?? null; }

  /** The control view the engine decides by (derived from the control state; see src/control/view.ts). */
  get view(): ControlView { return this.ctl; }

  /**
   * Replaces the control view, at once: the next batch answered decides by
   * it (a lockdown is STOP for every cycle not yet answered). New arms when
   * the canary or the watch draw changes.
   */
  setView(v: ControlView): void {
    const old = this.ctl;
    this.ctl = v;
    // A canary that starts (ratio from 0) compares with the incumbent from
    // then on, under the same conditions, not with its shadow-phase past.
    if (v.canarySalt !== old.canarySalt || (v.watch?.salt ?? -1) !== (old.watch?.salt ?? -1) || (old.canaryRatio === 0 && v.canaryRatio > 0)) this.arms.reset();
  }

  private newShadow(): ShadowStats {
    return new ShadowStats(this.config.shadow_window, this.evidenceAlpha, this.config.reward.clip, this.config.learning.iw_clip);
  }
  get candidateVersion(): string | null { return this.cand?.version ?? null; }
  get queued(): number { return this.queue.length - this.head; }

  /** One cycle. Never rejects: a bad request resolves to an ERROR or REJECTED reply. */
  cycle(req: unknown): Promise<CycleReply | ErrorReply> {
    const t0 = performance.now();
    if (this.inFlight) this.pool.poke();
    if (this.closed) return Promise.resolve(err('E_POOL_CLOSED', 'the engine is closed'));
    const bad = this.intake.check(req);
    if (bad) return Promise.resolve(bad);
    if (this.queued >= this.config.max_queue) {
      this.stats.shed++;
      return Promise.resolve(err('E_OVERLOADED', `${this.queued} cycles are waiting for the kernel; this one was shed`));
    }
    const p = this.intake.admit(req as Record<string, unknown>, this.nextCycleId++, t0);
    if (p.fault && this.allowFaults) this.faultAdmitted = true;
    if (this.pendingCapture) {
      (p.failures ??= []).push({ ...this.pendingCapture, agent_id: p.agentId, cycle_id: p.cycleId });
      this.pendingCapture = null;
    }
    return new Promise((resolve) => {
      p.resolve = resolve;
      this.queue.push(p);
      this.schedule();
    });
  }

  /** Sets (or clears) the production or candidate model; applied between batches. */
  setModel(role: 'production' | 'candidate' | 'holdback', version: string | null, params: ModelParams | null): Promise<void> {
    return this.op(() => {
      // The candidate and the holdback model share the kernel's second
      // columns: the lifecycle never has both (no candidate during a watch).
      if (version !== null && ((role === 'candidate' && this.hold) || (role === 'holdback' && this.cand))) {
        throw new Error(`cannot load a ${role} model while a ${role === 'candidate' ? 'holdback' : 'candidate'} model is loaded`);
      }
      const next = version !== null && params !== null ? loadResident(this.pool, version, params, this.schema.dim, this.intents.count) : null;
      if (next) this.slot.ensureScratch(next.shape);
      const old = role === 'production' ? this.prod : role === 'candidate' ? this.cand : this.hold;
      if (role === 'production') this.prod = next; else if (role === 'candidate') this.cand = next; else this.hold = next;
      if (old) unloadResident(this.pool, old);
      // The policies the arms stand for changed only now (the view that named
      // them was set before the load): evidence starts over, so no decision
      // of the model that left counts for the one that came.
      if (old !== next) this.arms.reset();
      if (role === 'candidate') {
        this.shadow = this.newShadow();
        this.monitor.resetShadow();
        this.candEpoch++;
      }
    });
  }

  /** The candidate's current (learned) weights; null when none is set. */
  snapshotCandidate(): Promise<ModelParams | null> {
    return this.op(() => (this.cand ? snapshotResident(this.pool, this.cand) : null));
  }

  snapshotProduction(): Promise<ModelParams | null> {
    return this.op(() => (this.prod ? snapshotResident(this.pool, this.prod) : null));
  }

  /** Resolves once every queued cycle has been answered. */
  async drain(): Promise<void> {
    while (this.queued > 0 || this.inFlight) await this.op(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.drain();
    this.closed = true;
    await this.pool.close();
  }

  private op<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.ops.push(() => {
        try { resolve(fn()); } catch (e) { reject(e); }
      });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.pumpScheduled || this.inFlight) return;
    this.pumpScheduled = true;
    queueMicrotask(this.pumpTask);
  }

  /** The microtask that forms the next batch (one closure for the engine's life, not one per batch). */
  private readonly pumpTask = (): void => { this.pumpScheduled = false; this.pump(); };

  private pump(): void {
    if (this.inFlight) return;
    while (this.ops.length > 0) this.ops.shift()!();
    if (this.queued === 0) {
      if (this.head > 0) { this.queue = []; this.head = 0; }
      return;
    }
    this.dispatch();
  }

  private dispatch(): void {
    const rows: Pending[] = [];
    const epoch = ++this.epoch;
    const cap = this.config.max_batch;
    const m = this.pool.kernel.views();
    const s = this.slot;
    const v = this.ctl;
    // The candidate learns in shadow; while a canary runs it holds still, so
    // the canary's evidence is about the very weights a promotion would put
    // in production (a candidate that kept learning could end the canary as
    // a worse model than the one the canary measured: docs/GATE.md).
    const learning = this.cand !== null && !this.freezeLearning && !v.lockdown && v.mode !== 'SHADOW_LEARNING_PAUSE' && v.mode !== 'TEMPORAL_LOCK' && v.canaryRatio === 0;
    let nExp = 0;
    while (this.head < this.queue.length && rows.length < cap) {
      const p = this.queue[this.head];
      if (p.stream.batchEpoch === epoch) break;
      p.stream.batchEpoch = epoch;
      this.head++;
      const i = rows.length;
      rows.push(p);
      s.writeRow(m, i, p.features, p.verdict.mask, p.verdict.pref, p.cycleId);
      p.prevAtDispatch = p.stream.prev;
      const closing = closeExperience(p.intentTaken, p.result, p.stream.prev, this.intents, this.config.reward, this.outcome);
      this.ledger.account(p, closing);
      if (!learning) continue;
      if (closing.kind === 'learn') {
        this.slot.writeExp(m, nExp++, closing.prev.features, closing.action, closing.reward, closing.propensity);
        this.expKind[nExp - 1] = 0;
      }
      // Safety shaping: an intent the rules forbid here is never served, so
      // no outcome would ever teach the candidate that it is bad here; teach
      // it directly, as if it had been tried and cost a violation. Without
      // this a candidate keeps proposing forbidden intents in states where
      // the rules apply, and the promotion gate (proposed-violation rate)
      // could never pass.
      const forbidden = (this.intents.allMask & ~p.verdict.mask) >>> 0;
      if (forbidden !== 0 && this.config.learning.safety_shaping) {
        for (let j = 0; j < this.intents.count; j++) {
          if ((forbidden >>> j) & 1) {
            this.slot.writeExp(m, nExp++, p.features, j, this.shapingReward, 1);
            this.expKind[nExp - 1] = 1;
          }
        }
      }
    }
    // Drop the answered prefix of the queue: under steady load it may never
    // drain to empty, and the references it kept would grow without bound.
    if (this.head === this.queue.length) { this.queue = []; this.head = 0; }
    else if (this.head >= 1024) { this.queue = this.queue.slice(this.head); this.head = 0; }
    const ex = this.config.exploration, ln = this.config.learning;
    const task: BatchTask = {
      n: rows.length, feats: s.feats, ctrl: s.ctrl,
      prod: this.prod?.ptr ?? 0, prodOut: s.prodOut, cand: (this.cand ?? this.hold)?.ptr ?? 0, candOut: s.candOut,
      exps: s.exps, m: nExp, scratch: s.scratch,
      epsilon: ex.epsilon, temperature: ex.temperature, mode: ex.mode === 'softmax' ? 1 : 0,
      lr: ln.lr, l2: ln.l2, iwClip: ln.iw_clip, gradClip: ln.grad_clip,
    };
    if (this.faultAdmitted) {
      const fault = rows.find((r) => r.fault)?.fault;
      if (fault) task.fault = fault;
    }
    this.inFlight = true;
    const hasProd = this.prod !== null, hasCand = this.cand !== null || this.hold !== null;
    if (this.replayKernelFailure) {
      const failure = this.replayKernelFailure;
      this.replayKernelFailure = null;
      queueMicrotask(() => this.complete(rows, { ok: false, failure, error: 'replayed kernel failure', micros: 0 }, 0, hasProd, hasCand));
      return;
    }
    // A small batch runs here and is settled in this same turn (no promise,
    // no microtask: docs/CPU.md); any other goes to a worker.
    const here = this.pool.runHere(task);
    if (here) { this.complete(rows, here, nExp, hasProd, hasCand); return; }
    void this.pool.runOnWorker(task).then((outcome) => this.complete(rows, outcome, nExp, hasProd, hasCand));
  }

  private complete(rows: Pending[], outcome: BatchOutcome, nExp: number, hasProd: boolean, hasCand: boolean): void {
    this.settler.settle(rows, outcome, nExp, hasProd, hasCand);
    this.inFlight = false;
    this.schedule();
  }

  /** Reports `type` with the capture of the next cycle served (monitor alerts). */
  captureNext(type: FailureEvent['type'], detail: string): void {
    this.pendingCapture = { type, detail };
  }

  /**
   * For offline replay (src/monitor/replay.ts): put an agent's stream and the
   * cycle counter back as a snapshot recorded them, and make the next batch
   * fail as the recorded one did.
   */
  restoreForReplay(agentId: string, prev: LoggedDecision | null, lastTs: number, cycleId: number, kernel: CycleCapture['kernel']): void {
    const s = this.agents.get(agentId, this.nextCycleId);
    s.prev = prev ?? undefined;
    s.lastTs = lastTs;
    this.nextCycleId = cycleId;
    this.replayKernelFailure = kernel === 'OK' ? null : kernel;
  }
}
