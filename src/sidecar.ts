// The composition root: one data directory, one engine, one control plane.
// Opens (and locks) the directory, verifies the audit chain, restores the
// control state into the engine, and routes each message to the engine (a
// cycle) or the control plane (a command).
import { readFile } from 'node:fs/promises';
import { SidecarError, errorReply } from './errors.js';
import { engineConfig, controlConfig, failureConfig, sidecarConfig, type SidecarConfigInput } from './config.js';
import { Engine } from './engine/cycle.js';
import type { CycleReply, ErrorReply } from './engine/types.js';
import { AuditLog, verifyLogFile } from './audit/log.js';
import { Registry } from './store/registry.js';
import { loadState, type ModelRef } from './store/control-state.js';
import { dataPaths, acquireLock, type DataPaths } from './store/data-dir.js';
import { writeFileAtomic } from './store/atomic-file.js';
import { pack, unpack } from './transport/codec.js';
import { validateBody, type ModelParams } from './kernel/model.js';
import { ControlPlane, type CommandReply } from './control/commands.js';
import { Operators } from './control/operators.js';
import { heartbeat, registryView } from './monitor/heartbeat.js';
import { FileQuarantine } from './monitor/quarantine.js';
import { Containment } from './control/containment.js';
import { gateVerdict, watchVerdict } from './control/evidence.js';
import { listIncidents } from './monitor/incidents.js';
import { DEFAULT_ALERTS } from './monitor/alerts.js';
import { TokenBucket } from './transport/rate-limit.js';
import type { ConnInfo } from './transport/conn-info.js';
import { SILENT_LOG, type EventLog } from './log.js';
import { FloodLog } from './monitor/flood-log.js';
import { watchForLog } from './monitor/log-events.js';
import { modelLayout, exportModel } from './control/model-io.js';
import { readLoadable, checkStoredLayout } from './control/preload.js';

export interface SidecarOptions {
  dataDir: string;
  config?: SidecarConfigInput;
  operatorsFile?: string;
  clock?: () => number;
  allowFaultInjection?: boolean;
  /** Seconds between checkpoints of the candidate's learned weights (0: only at close). */
  checkpointEverySec?: number;
  /** Structured log (src/log.ts); silent by default. */
  log?: EventLog;
}

export type Reply = CycleReply | ErrorReply | CommandReply;

/** Cycles in one `{"cycles": [...]}` request at most. */
export const MAX_BATCH = 4096;

export class Sidecar {
  readonly paths: DataPaths;
  readonly startedAt: number;
  auditVerified = true;
  /** Problems met at start-up (unreadable model files, a tampered audit), for HEARTBEAT and the operator. */
  readonly startupProblems: string[] = [];
  private checkpointTimer: NodeJS.Timeout | undefined;
  private readonly flood: TokenBucket;
  /** Cycles shed by the rate limit (FLOOD). */
  shed = 0;
  private gateConfig = controlConfig().gate;
  private alertConfig = DEFAULT_ALERTS;
  private closed = false;
  /** The server's exposure and refusal counts (server.ts), shown in HEARTBEAT as `security`. */
  security?: () => Record<string, unknown>;
  /** Operators and their failed-authentication throttle (counts in `security`). */
  operators!: Operators;
  readonly log: EventLog;
  private stopLogWatch: () => void = () => {};
  private readonly floodLog: FloodLog;

  private constructor(
    readonly engine: Engine, readonly control: ControlPlane, readonly audit: AuditLog, readonly registry: Registry,
    paths: DataPaths, private readonly unlock: () => Promise<void>, private readonly clock: () => number,
    readonly failures: Containment, readonly quarantine: FileQuarantine, maxCyclesPerSec: number, log: EventLog,
  ) {
    this.log = log;
    this.paths = paths;
    this.startedAt = clock();
    this.flood = new TokenBucket(maxCyclesPerSec, clock);
    this.floodLog = new FloodLog(log, clock, () => this.flood.rate);
  }

  static async open(o: SidecarOptions): Promise<Sidecar> {
    const clock = o.clock ?? Date.now;
    const paths = dataPaths(o.dataDir);
    const unlock = await acquireLock(paths);
    try {
      return await Sidecar.start(o, paths, unlock, clock);
    } catch (e) {
      await unlock();
      throw e;
    }
  }

  private static async start(o: SidecarOptions, paths: DataPaths, unlock: () => Promise<void>, clock: () => number): Promise<Sidecar> {
    const { maxCyclesPerS } = sidecarConfig(o.config);
    const econf = engineConfig(o.config?.engine);
    const cconf = controlConfig(o.config?.control);
    const fconf = failureConfig(o.config?.failures);
    const operators = Operators.fromFile(o.operatorsFile, clock);
    const registry = await Registry.open(paths.models);
    let state = await loadState(paths.state);
    const opened = await AuditLog.open(paths.audit, clock);
    const quarantine = new FileQuarantine(paths.quarantine);
    let fm: Containment | undefined;
    let sidecar: Sidecar | undefined;
    const engine = await Engine.create({
      config: econf, clock, allowFaultInjection: o.allowFaultInjection, quarantine, evidenceAlpha: cconf.gate.alpha,
      onFailure: (f) => fm!.handle(f), wantsCapture: (t) => fm!.wantsCapture(t),
    });
    fm = new Containment({ engine, control: () => sidecar!.control, audit: opened.log, failuresDir: paths.failures, config: fconf, gate: cconf.gate, clock });
    opened.log.onWriteError = (e) => fm!.diskError(e);
    operators.onFailure = (f) => { void opened.log.append('AUTH_FAILURE', null, { ...f }).catch(() => {}); };
    const control = new ControlPlane({
      engine, registry, audit: opened.log, statePath: paths.state, state, operators, config: cconf, clock,
      onDiskError: (e) => fm!.diskError(e),
      onLoadError: (detail) => fm!.handle({ type: 'MODEL_LOAD_FAILURE', detail }),
      queries: {
        HEARTBEAT: () => sidecar!.heartbeat(),
        LIST_MODELS: () => ({ models: registryView(registry, sidecar!.control.state) }),
        GET_MODEL: async (req) => {
          const m = sidecar!.getModel(req.version);
          return { model: { ...(m.model as Record<string, unknown>), layout: await modelLayout(registry, engine, req.version, req.revision) } };
        },
        EXPORT_MODEL: (req) => exportModel(registry, engine, req.version, req.revision),
        LIST_INCIDENTS: (req) => {
          const all = listIncidents(paths.failures);
          const limit = typeof req.limit === 'number' && req.limit > 0 ? Math.min(req.limit, 1000) : 50;
          return { total: all.length, incidents: all.slice(-limit) };
        },
        VERIFY_AUDIT: async () => {
          const v = await verifyLogFile(opened.log.path);
          sidecar!.auditVerified = v.ok;
          return { verified: v.ok, length: v.length, head_hash: v.head, ...(v.firstBad ? { first_bad: v.firstBad } : {}) };
        },
      },
    });
    sidecar = new Sidecar(engine, control, opened.log, registry, paths, unlock, clock, fm, quarantine, maxCyclesPerS, o.log ?? SILENT_LOG);
    const s = sidecar;
    s.gateConfig = cconf.gate;
    s.operators = operators;
    s.alertConfig = fconf.alerts;
    if (o.log) s.stopLogWatch = watchForLog({ engine, audit: opened.log, failuresDir: paths.failures, alerts: fconf.alerts }, o.log);
    for (const b of registry.broken) s.startupProblems.push(`model file ${b.file}: ${b.code} ${b.message}`);

    // The engine's view was set from the state by the control plane.
    await s.loadRole('production', state.active);
    await s.loadRole('candidate', state.candidate);
    if (state.watch) await s.loadRole('holdback', state.watch.previous);

    if (opened.tornBytes > 0) {
      await opened.log.append('AUDIT_TAIL_TRUNCATED', 'system', { bytes: opened.tornBytes, reason: 'the last record was torn by an interrupted write' });
    }
    s.auditVerified = opened.verify.ok;
    if (!opened.verify.ok) {
      const bad = opened.verify.firstBad!;
      s.startupProblems.push(`audit chain broken at record ${bad.index + 1} (seq ${bad.seq}): ${bad.reason}`);
      // Tampering: the lockdown is latched (and durable) before a single cycle is served.
      // Through the lifecycle as the system operator, like every other containment.
      fm.handle({ type: 'AUDIT_TAMPER', detail: `${bad.reason} at record ${bad.index + 1} (seq ${bad.seq})` });
      await control.settled();
      await fm.drain();
    }
    await opened.log.append('STARTUP', 'system', {
      pid: process.pid, active: state.active, candidate: state.candidate, lockdown: state.lockdown.active,
      problems: s.startupProblems,
    });
    const every = o.checkpointEverySec ?? 30;
    if (every > 0) {
      s.checkpointTimer = setInterval(() => { void s.checkpointOrReport(); }, every * 1000);
      s.checkpointTimer.unref();
    }
    fm.start();
    return s;
  }

  /** Loads a role's model; a candidate resumes from its checkpoint when one matches. */
  private async loadRole(role: 'production' | 'candidate' | 'holdback', ref: ModelRef | null): Promise<void> {
    if (!ref) return;
    try {
      let params: ModelParams | null = null;
      // A model stored for another layout than the running schema's is not
      // loaded (the role serves the rules): weights read against another
      // feature order would run and be wrong.
      checkStoredLayout(this.registry, this.engine, ref.version);
      if (role === 'candidate') params = await this.readCheckpoint(ref);
      params ??= await readLoadable(this.registry, this.engine, ref);
      await this.engine.setModel(role, ref.version, params);
    } catch (e) {
      const err = e as SidecarError;
      this.startupProblems.push(`${role} ${ref.version} revision ${ref.revision} not loaded: ${err.code ?? ''} ${err.message}`);
    }
  }

  private async readCheckpoint(ref: ModelRef): Promise<ModelParams | null> {
    try {
      const c = unpack(await readFile(this.paths.checkpoint)) as { version: string; revision: number; params: Omit<ModelParams, 'body'> & { body: Uint8Array } };
      if (c.version !== ref.version || c.revision !== ref.revision) return null;
      const body = new Float32Array(c.params.body.byteLength / 4);
      new Uint8Array(body.buffer).set(c.params.body);
      const p: ModelParams = { shape: c.params.shape, seed: c.params.seed, updates: c.params.updates, body };
      validateBody(p.shape, p.body);
      return p;
    } catch {
      return null; // no checkpoint, or not a usable one: start from the registered weights
    }
  }

  /** The last checkpoint write error, while checkpoints keep failing (an alert in HEARTBEAT). */
  checkpointError: string | null = null;

  /**
   * The periodic checkpoint: a write error is a write error of the failure
   * taxonomy (READ_ONLY_DISK, an incident) and a CRITICAL alert, never
   * swallowed.
   */
  async checkpointOrReport(): Promise<void> {
    try {
      await this.checkpoint();
      this.checkpointError = null;
    } catch (e) {
      this.checkpointError = `candidate checkpoint not written: ${(e as Error).message}`;
      this.failures.diskError(e as Error);
    }
  }

  /** Writes the candidate's learned weights, so a restart resumes learning where it was. */
  async checkpoint(): Promise<void> {
    const ref = this.control.state.candidate;
    if (!ref || this.closed) return;
    const p = await this.engine.snapshotCandidate();
    if (!p || this.engine.candidateVersion !== ref.version) return;
    const body = new Uint8Array(p.body.buffer, p.body.byteOffset, p.body.byteLength);
    await writeFileAtomic(this.paths.checkpoint, pack({ version: ref.version, revision: ref.revision, params: { ...p, body } }));
  }

  /**
   * One request: a command (string `type`), a cycle (object `state`), or a
   * batch of cycles. Not `async`: a cycle returns the engine's own promise,
   * without a second promise around it and the two extra turns of the
   * microtask queue that wrapping costs on every cycle (docs/CPU.md).
   */
  handle(msg: unknown, bearer?: string, conn?: ConnInfo): Promise<Reply> {
    try {
      if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return Promise.resolve(unknownMessage());
      const m = msg as Record<string, unknown>;
      if (m.type === undefined && m.state !== undefined && !Array.isArray(m.cycles)) {
        if (!this.flood.take(1)) return Promise.resolve(this.floodReply());
        return this.engine.cycle(m); // a `state` that is not an object is E_BAD_STATE from the engine
      }
      if (typeof m.type === 'string') return this.command(m, bearer, conn);
      if (m.type === undefined && Array.isArray(m.cycles)) return this.batch(m.cycles);
      return Promise.resolve(unknownMessage());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** A command, logged (type, operator, status, code, audit_seq: never a credential or a token). */
  private async command(m: Record<string, unknown>, bearer?: string, conn?: ConnInfo): Promise<Reply> {
    const t0 = performance.now();
    const reply = await this.control.handle(m, bearer, conn);
    const code = (reply.error as { code?: unknown } | undefined)?.code;
    this.log.command({
      type: (m.type as string).slice(0, 64), operator_id: typeof m.operator_id === 'string' ? m.operator_id.slice(0, 128) : null,
      status: reply.status, code: typeof code === 'string' ? code : null, audit_seq: typeof reply.audit_seq === 'number' ? reply.audit_seq : null,
      step: reply.status === 'REQUIRED_CONFIRMATION' ? 'request' : m.confirmation_token !== undefined ? 'confirm' : null,
      duration_ms: Math.round((performance.now() - t0) * 1000) / 1000,
    });
    return reply;
  }

  /** `{"cycles": [...]}`: every cycle answered, in order. */
  private async batch(cycles: unknown[]): Promise<Reply> {
    if (cycles.length > MAX_BATCH) return errorReply('E_BAD_CYCLE', `a batch holds at most ${MAX_BATCH} cycles`);
    if (!this.flood.take(cycles.length)) return this.floodReply();
    const replies = await Promise.all(cycles.map((c) => this.engine.cycle(c)));
    return { status: 'OK', replies } as unknown as Reply;
  }

  private floodReply(): ErrorReply {
    this.shed++;
    this.floodLog.shed(this.shed); // summarised: monitor/flood-log.ts
    this.failures.handle({ type: 'FLOOD', detail: `cycle rate over ${this.flood.rate}/s; ${this.shed} cycle(s) shed so far` });
    return errorReply('E_FLOOD', `cycle rate over the limit of ${this.flood.rate}/s: this cycle was shed; slow down`);
  }

  heartbeat(): Record<string, unknown> {
    const state = this.control.state;
    const hb = heartbeat({
      engine: this.engine, registry: this.registry, state, audit: this.audit, auditVerified: this.auditVerified,
      gate: state.candidate ? gateVerdict(this.engine, state.canary_ratio, this.gateConfig) : null,
      watch: state.watch ? watchVerdict(this.engine, this.gateConfig) : null,
      startedAt: this.startedAt, now: this.clock(), alerts: this.alertConfig, quarantine: this.quarantine,
      incidentsWritten: this.failures.written.length, incidentsPending: this.failures.pending, incidentWriteErrors: this.failures.writeErrors, shed: this.shed,
      ...(this.startupProblems.length ? { monitoring: { startup_problems: this.startupProblems } } : {}),
      extraAlerts: [
        ...(this.checkpointError ? [{ type: 'CHECKPOINT_WRITE', level: 'CRITICAL' as const, message: this.checkpointError, value: 1, threshold: 0 }] : []),
        ...(this.failures.lastWriteError ? [{ type: 'INCIDENT_WRITE', level: 'CRITICAL' as const, message: this.failures.lastWriteError, value: this.failures.writeErrors, threshold: 0 }] : []),
      ],
    });
    return this.security ? { ...hb, security: this.security() } : hb;
  }

  private getModel(version: unknown): Record<string, unknown> {
    if (typeof version !== 'string') throw new SidecarError('E_BAD_COMMAND', 'version must be a string');
    const m = this.registry.get(version);
    if (!m) throw new SidecarError('E_UNKNOWN_MODEL', `model ${version} is not registered`);
    const view = registryView(this.registry, this.control.state).find((v) => v.version === version);
    return { model: { ...view, metadata: m.metadata, revisions: m.revisions } };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    this.failures.stop();
    this.stopLogWatch();
    this.floodLog.stop();
    await this.engine.drain();
    await this.control.settled();
    await this.failures.drain();
    await this.quarantine.close();
    // Not swallowed: the candidate's learning since the last checkpoint is
    // lost when this write fails, and the log (and the audit) say so.
    let checkpointError: string | null = null;
    await this.checkpoint().catch((e: Error) => {
      checkpointError = e.message;
      this.log.shutdownCheckpointFailed({ error: e.message });
    });
    this.closed = true;
    await this.audit.append('SHUTDOWN', 'system', { cycles: this.engine.stats.cycles, ...(checkpointError ? { checkpoint_error: checkpointError } : {}) }).catch(() => {});
    await this.engine.close();
    await this.audit.close();
    await this.unlock();
  }
}

function unknownMessage(): ErrorReply {
  return errorReply('E_UNKNOWN_MESSAGE', 'a request needs a string `type` (a command) or a `state` object (a cycle)');
}
