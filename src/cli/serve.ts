// `shadowpath serve`: the sidecar on TCP and HTTP, until SIGTERM or SIGINT;
// then it stops accepting, answers what is in flight, flushes the audit and
// the state, and exits 0.
import { readFileSync } from 'node:fs';
import { SidecarError } from '../errors.js';
import type { SidecarConfigInput } from '../config.js';
import { startServer, type RunningServer } from '../server.js';
import { parseArgs } from './args.js';
import { createLog, type EventLog } from '../log.js';
import { effectiveMode } from '../monitor/log-events.js';

export const SERVE_HELP = `usage: shadowpath serve [options]

  --data-dir DIR      data directory (default ./data)
  --host HOST         address to listen on (default 127.0.0.1)
  --tcp-port N        TCP port, JSON lines and binary frames (default 5001; 0 picks one)
  --http-port N       HTTP port (default 8080; 0 picks one)
  --config FILE       JSON configuration {"engine": {...}, "control": {...}} (docs/CONFIG.md)
  --operators FILE    operators file (JSON [{id, role, secret_sha256}]); without one any operator_id is taken
  --log-level LEVEL   trace, debug, info (default), warn, error, fatal or silent
  --log-pretty        human-readable log lines (needs the dev dependency pino-pretty)

Logs are JSON lines on stdout (pino): start and stop, every command, every
failure-mode change, every incident (with its path), alert transitions,
kernel worker replacement, FLOOD. Nothing per cycle.`;

export interface ServeArgs {
  dataDir: string;
  host: string;
  tcpPort: number;
  httpPort: number;
  config?: SidecarConfigInput;
  operatorsFile?: string;
  logLevel: string;
  logPretty: boolean;
}

export function serveArgs(argv: string[]): ServeArgs {
  const o = parseArgs(argv, { 'data-dir': 'string', host: 'string', 'tcp-port': 'number', 'http-port': 'number', config: 'string', operators: 'string', 'log-level': 'string', 'log-pretty': 'boolean' });
  let config: SidecarConfigInput | undefined;
  if (o.config) {
    try {
      config = JSON.parse(readFileSync(o.config as string, 'utf8')) as SidecarConfigInput;
    } catch (e) {
      throw new SidecarError('E_CONFIG', `cannot read --config ${String(o.config)}: ${(e as Error).message}`);
    }
  }
  return {
    dataDir: (o['data-dir'] as string) ?? 'data', host: (o.host as string) ?? '127.0.0.1',
    tcpPort: (o['tcp-port'] as number) ?? 5001, httpPort: (o['http-port'] as number) ?? 8080,
    config, operatorsFile: o.operators as string | undefined,
    logLevel: (o['log-level'] as string) ?? 'info', logPretty: o['log-pretty'] === true,
  };
}

/** Starts a server and resolves with it; SIGTERM/SIGINT close it cleanly. */
export async function startFromArgs(a: ServeArgs, log?: EventLog): Promise<RunningServer> {
  // On a small machine, fewer libuv threads doing fsyncs contend less with
  // the cycle path (see README, "Benchmark"); a user's own setting wins.
  process.env.UV_THREADPOOL_SIZE ??= '2';
  return startServer({ dataDir: a.dataDir, host: a.host, tcpPort: a.tcpPort, httpPort: a.httpPort, config: a.config, operatorsFile: a.operatorsFile, log });
}

export function onSignals(close: (sig: string) => Promise<void>): void {
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`shadowpath: ${sig}: stopping (answering in-flight requests, flushing audit and state)`);
    close(sig).then(() => process.exit(0), (e: unknown) => { console.error(`shadowpath: shutdown failed: ${(e as Error).message}`); process.exit(1); });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

export async function serve(argv: string[]): Promise<number> {
  const a = serveArgs(argv);
  const log = await createLog({ level: a.logLevel, pretty: a.logPretty });
  const s = await startFromArgs(a, log);
  log.start({ host: s.host, tcp_port: s.tcpPort, http_port: s.httpPort, data_dir: a.dataDir, failure_mode: effectiveMode(s.sidecar.engine),
    startup_problems: s.sidecar.startupProblems });
  onSignals(async (sig) => {
    await s.close();
    log.stop({ reason: sig, cycles: s.sidecar.engine.stats.cycles, uptime_s: Math.round((Date.now() - s.sidecar.startedAt) / 100) / 10 });
    await log.flush();
  });
  await new Promise(() => {}); // until a signal
  return 0;
}
