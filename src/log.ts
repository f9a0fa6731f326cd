// Structured logs: one JSON object per line on stdout (pino), which is what a
// cluster collects from a sidecar. One small typed function per event, so
// what goes into a line is decided here and nowhere else; in particular no
// event takes a request object, so a secret (`auth`, a bearer) or a
// confirmation token cannot reach the log by accident.
//
// Nothing here is called per cycle: the hot path never logs (a FLOOD is
// summarised, at most one line per `FLOOD_EVERY_MS`).
import { pino, type Logger, type DestinationStream } from 'pino';
import { SidecarError } from './errors.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A FLOOD is logged when it starts, then at most this often while it lasts. */
export const FLOOD_EVERY_MS = 5000;

export interface CommandLog {
  type: string;
  /** The operator_id the request claimed (an id, never a credential). */
  operator_id: string | null;
  status: string;
  code: string | null;
  audit_seq: number | null;
  /** 'request' (first step, a token was issued) or 'confirm' (the token was presented); null for one-step commands. */
  step: 'request' | 'confirm' | null;
  duration_ms: number;
}

export class EventLog {
  constructor(readonly pino: Logger) {}

  start(i: { host: string; tcp_port: number | null; http_port: number | null; data_dir: string; failure_mode: string; startup_problems: string[]; tls?: boolean; insecure?: boolean }): void {
    this.pino.info({ event: 'start', ...i }, 'listening');
  }

  /** The server could not start (a port in use, a locked data directory, a bad option): the process exits 1 after this line. */
  startFailed(i: { code: string; message: string; host: string | null; tcp_port: number | null; http_port: number | null; data_dir: string | null }): void {
    this.pino.fatal({ event: 'start_failed', ...i }, `cannot start: ${i.code}: ${i.message}`);
  }

  stop(i: { reason: string; cycles: number; uptime_s: number }): void {
    this.pino.info({ event: 'stop', ...i }, 'stopped');
  }

  command(c: CommandLog): void {
    const refused = c.status === 'REJECTED' || c.status === 'ERROR';
    this.pino[refused ? 'warn' : 'info']({ event: 'command', ...c }, `${c.type} ${c.status}${c.code ? ' ' + c.code : ''}`);
  }

  modeChange(i: { from: string; to: string; cause: string | null; audit_seq: number | null }): void {
    this.pino[i.to === 'NORMAL' ? 'info' : 'warn']({ event: 'mode_change', ...i }, `failure mode ${i.from} -> ${i.to}`);
  }

  incident(i: { incident_id: string; type: string; severity: string; mode: string; path: string; audit_seq: number }): void {
    this.pino[i.severity === 'CRITICAL' ? 'error' : 'warn']({ event: 'incident', ...i }, `incident ${i.type}: ${i.path}`);
  }

  alert(i: { alert: string; from: string; to: string; message: string | null; recommended_mitigation: string | null }): void {
    this.pino[i.to === 'OK' ? 'info' : 'warn']({ event: 'alert', ...i }, `alert ${i.alert} ${i.from} -> ${i.to}`);
  }

  workerReplaced(i: { lane: number; reason: string; restarts: number }): void {
    this.pino.warn({ event: 'worker_replaced', ...i }, `kernel worker ${i.lane} replaced`);
  }

  flood(i: { shed: number; shed_total: number; limit_per_s: number; since_ms: number }): void {
    this.pino.warn({ event: 'flood', ...i }, `cycle rate over ${i.limit_per_s}/s: ${i.shed} cycle(s) shed`);
  }

  /** The checkpoint at shutdown could not be written: the learned weights since the last one are lost on this stop. */
  shutdownCheckpointFailed(i: { error: string }): void {
    this.pino.error({ event: 'checkpoint_failed', at: 'shutdown', ...i }, `the shutdown checkpoint was not written: ${i.error}`);
  }

  /** Flushes what is buffered (pino-pretty, or an asynchronous destination). */
  flush(): Promise<void> {
    return new Promise((resolve) => this.pino.flush(() => resolve()));
  }
}

/** Logs nothing: the default of an in-process Sidecar (tests, the bench, the demo). */
export const SILENT_LOG = new EventLog(pino({ level: 'silent' }));

export interface LogOptions {
  level?: string;
  /** Human-readable lines (pino-pretty, an optional dev dependency). */
  pretty?: boolean;
  /** Where lines go (default stdout). */
  destination?: DestinationStream;
}

export async function createLog(o: LogOptions = {}): Promise<EventLog> {
  const level = o.level ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new SidecarError('E_CONFIG', `--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  const opts = { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  if (!o.pretty) {
    // Synchronous writes: a line is out before the process can die (a
    // sidecar's last lines are the ones that matter); no event is per cycle.
    return new EventLog(pino(opts, o.destination ?? pino.destination({ dest: 1, sync: true })));
  }
  let pretty: (o: Record<string, unknown>) => DestinationStream;
  try {
    // pino-pretty is a dev dependency: for people at a terminal, never needed to serve.
    const name = 'pino-pretty';
    pretty = ((await import(name)) as { default: typeof pretty }).default;
  } catch {
    throw new SidecarError('E_CONFIG', '--log-pretty needs the optional dev dependency pino-pretty (npm install pino-pretty); without it, logs are JSON lines');
  }
  return new EventLog(pino(opts, pretty({ destination: o.destination ?? 1, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })));
}
