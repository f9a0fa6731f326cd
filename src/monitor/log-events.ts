// What the structured log learns without being called from the failure
// manager: every change of control state, every incident and every command
// passes through the audit log, so mode changes and incidents are read off
// its records as they become durable (or are lost with a failed write, which
// is how a READ_ONLY_DISK shows up). Worker replacement comes from the pool's
// hook. Alert transitions are the one thing that is not an event anywhere: an
// alert is a function of the sliding window, which the failure manager
// itself evaluates on a timer; this evaluates the same function once a
// second and logs what changed.
import { join } from 'node:path';
import type { Engine } from '../engine/cycle.js';
import type { AuditLog } from '../audit/log.js';
import type { AuditRecord } from '../audit/chain.js';
import type { EventLog } from '../log.js';
import { evaluateAlerts, type AlertConfig } from './alerts.js';

export interface LogWatchDeps {
  engine: Engine;
  audit: AuditLog;
  failuresDir: string;
  alerts: AlertConfig;
  /** Alert evaluation period, ms (0: none). */
  alertEveryMs?: number;
}

/** Command types whose success changes the failure mode or the lockdown latch. */
const MODE_COMMANDS = new Set(['EMERGENCY_LOCKDOWN', 'UNRELEASE_LOCKDOWN', 'RESET_FAILURE_STATUS']);

export function effectiveMode(engine: Engine): string {
  return engine.view.lockdown ? 'LOCKDOWN' : engine.view.mode;
}

/** Starts watching; returns a function that stops the alert timer. */
export function watchForLog(d: LogWatchDeps, log: EventLog): () => void {
  let mode = effectiveMode(d.engine);
  const checkMode = (rec: AuditRecord | null) => {
    const now = effectiveMode(d.engine);
    if (now === mode) return;
    const p = (rec?.payload ?? {}) as Record<string, unknown>;
    const type = typeof p.type === 'string' ? p.type : null;
    // Name the record as the cause only when it is one that changes modes.
    const causal = rec && (rec.kind === 'TRANSITION' || rec.kind === 'INCIDENT' || (rec.kind === 'COMMAND' && type !== null && MODE_COMMANDS.has(type)));
    log.modeChange({ from: mode, to: now, cause: causal ? `${rec.kind} ${type ?? ''}`.trim() : rec ? null : 'write error', audit_seq: causal ? rec.seq : null });
    mode = now;
  };
  d.audit.observe((rec, durable) => {
    if (durable && rec.kind === 'INCIDENT') {
      const p = rec.payload as { incident_id: string; type: string; severity: string; mode: string };
      // The report file is written right after its audit record is durable (incidents.ts).
      log.incident({ incident_id: p.incident_id, type: p.type, severity: p.severity, mode: p.mode,
        path: join(d.failuresDir, `incident_${p.incident_id}.json`), audit_seq: rec.seq });
    }
    checkMode(durable ? rec : null);
  });
  d.engine.pool.onReplace = (i) => log.workerReplaced(i);

  const levels = new Map<string, string>();
  const every = d.alertEveryMs ?? 1000;
  let timer: NodeJS.Timeout | undefined;
  if (every > 0) {
    timer = setInterval(() => {
      const r = evaluateAlerts(d.engine.monitor.snapshotCached(every), d.alerts);
      const seen = new Set<string>();
      for (const a of r.alerts) {
        seen.add(a.type);
        const from = levels.get(a.type) ?? 'OK';
        if (from !== a.level) log.alert({ alert: a.type, from, to: a.level, message: a.message, recommended_mitigation: r.recommended_mitigation });
        levels.set(a.type, a.level);
      }
      for (const [type, from] of levels) {
        if (seen.has(type)) continue;
        levels.delete(type);
        log.alert({ alert: type, from, to: 'OK', message: null, recommended_mitigation: null });
      }
    }, every);
    timer.unref();
  }
  return () => { if (timer) clearInterval(timer); d.engine.pool.onReplace = null; };
}
