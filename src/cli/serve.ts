// `shadowpath serve`: the sidecar on TCP and HTTP, until SIGTERM or SIGINT;
// then it stops accepting, answers what is in flight, flushes the audit and
// the state, and exits 0.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
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
  --tls-cert FILE     TLS certificate (PEM, with its chain): TCP and HTTP both speak TLS
  --tls-key FILE      its private key (PEM)
  --allowed-host NAME an HTTP Host name to serve besides localhost, 127.0.0.1, [::1] and the
                      listen address (repeatable); other names are refused (E_HOST, 421)
  --insecure          listen beyond loopback without an operators file or without TLS
                      (refused otherwise); logged, audited and shown in HEARTBEAT
  --log-level LEVEL   trace, debug, info (default), warn, error, fatal or silent
  --log-pretty        human-readable log lines (needs the dev dependency pino-pretty)

Beyond loopback (--host other than 127.0.0.1, ::1, localhost) the server needs
--operators and --tls-cert/--tls-key, or --insecure. See docs/SECURITY.md.

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
  tls?: { cert: Buffer; key: Buffer };
  allowedHosts: string[];
  insecure: boolean;
  logLevel: string;
  logPretty: boolean;
}

function readPem(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new SidecarError('E_CONFIG', `cannot read --${flag} ${path}: ${(e as Error).message}`);
  }
}

export function serveArgs(argv: string[]): ServeArgs {
  const o = parseArgs(argv, { 'data-dir': 'string', host: 'string', 'tcp-port': 'number', 'http-port': 'number', config: 'string', operators: 'string',
    'tls-cert': 'string', 'tls-key': 'string', 'allowed-host': 'strings', insecure: 'boolean', 'log-level': 'string', 'log-pretty': 'boolean' });
  if ((o['tls-cert'] === undefined) !== (o['tls-key'] === undefined)) throw new SidecarError('E_CONFIG', '--tls-cert and --tls-key go together');
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
    tls: o['tls-cert'] !== undefined ? { cert: readPem('tls-cert', o['tls-cert'] as string), key: readPem('tls-key', o['tls-key'] as string) } : undefined,
    allowedHosts: (o['allowed-host'] as string[] | undefined) ?? [], insecure: o.insecure === true,
    logLevel: (o['log-level'] as string) ?? 'info', logPretty: o['log-pretty'] === true,
  };
}

/** Starts a server and resolves with it; SIGTERM/SIGINT close it cleanly. */
export async function startFromArgs(a: ServeArgs, log?: EventLog): Promise<RunningServer> {
  // On a small machine, fewer libuv threads doing fsyncs contend less with
  // the cycle path (see README, "Benchmark"); a user's own setting wins.
  process.env.UV_THREADPOOL_SIZE ??= '2';
  const s = await startServer({ dataDir: a.dataDir, host: a.host, tcpPort: a.tcpPort, httpPort: a.httpPort, config: a.config, operatorsFile: a.operatorsFile,
    tls: a.tls, allowedHosts: a.allowedHosts, insecure: a.insecure, log });
  for (const w of s.exposure.warnings) console.error(`shadowpath: WARNING (--insecure): ${w}`);
  return s;
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
  let a: ServeArgs | undefined;
  let log: EventLog | undefined;
  let s: RunningServer;
  try {
    a = serveArgs(argv);
    log = await createLog({ level: a.logLevel, pretty: a.logPretty });
    s = await startFromArgs(a, log);
  } catch (e) {
    // A cluster reads the sidecar's stdout, not its stderr: a failed start is
    // a fatal JSON line there too (the default logger when the options were
    // what failed), then the error goes to stderr and the process exits 1.
    const err = e as { code?: unknown; message?: unknown };
    const l = log ?? await createLog().catch(() => undefined);
    l?.startFailed({ code: typeof err.code === 'string' ? err.code : 'E_INTERNAL', message: String(err.message ?? e),
      host: a?.host ?? null, tcp_port: a?.tcpPort ?? null, http_port: a?.httpPort ?? null, data_dir: a ? resolve(a.dataDir) : null });
    await l?.flush();
    throw e;
  }
  log.start({ host: s.host, tcp_port: s.tcpPort, http_port: s.httpPort, data_dir: s.sidecar.paths.root, failure_mode: effectiveMode(s.sidecar.engine),
    tls: s.exposure.tls, insecure: s.exposure.insecure, startup_problems: s.sidecar.startupProblems });
  onSignals(async (sig) => {
    await s.close();
    log.stop({ reason: sig, cycles: s.sidecar.engine.stats.cycles, uptime_s: Math.round((Date.now() - s.sidecar.startedAt) / 100) / 10 });
    await log.flush();
  });
  await new Promise(() => {}); // until a signal
  return 0;
}
