// A running sidecar: the data directory and engine (Sidecar) behind the TCP
// and HTTP transports. Used by `shadowpath serve`, `npm start` and the
// end-to-end tests.
import { Sidecar, type SidecarOptions } from './sidecar.js';
import { Session } from './session.js';
import { TcpServer } from './transport/tcp.js';
import { HttpServer } from './transport/http.js';
import { DEFAULT_LIMITS, type Limits } from './transport/framing.js';
import { prometheus } from './monitor/prometheus.js';
import { healthChecks } from './monitor/health.js';
import { checkExposure, tlsOptions, type Exposure } from './transport/exposure.js';
import type { ConnInfo } from './transport/conn-info.js';

export interface ServerOptions extends SidecarOptions {
  host?: string;
  /** 0 picks a free port; null disables the transport. */
  tcpPort?: number | null;
  httpPort?: number | null;
  limits?: Partial<Limits>;
  maxConnections?: number;
  maxInFlightPerConnection?: number;
  /** Certificate and key (PEM): both transports speak TLS. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** HTTP Host names served besides loopback names and the listen address. */
  allowedHosts?: string[];
  /** Listen beyond loopback without operators or without TLS (docs/SECURITY.md). */
  insecure?: boolean;
}

export interface RunningServer {
  sidecar: Sidecar;
  tcp: TcpServer | null;
  http: HttpServer | null;
  tcpPort: number | null;
  httpPort: number | null;
  host: string;
  exposure: Exposure;
  /** Stops accepting, answers what is in flight, flushes the audit and state. */
  close(): Promise<void>;
}

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const host = o.host ?? '127.0.0.1';
  const limits: Limits = { ...DEFAULT_LIMITS, ...o.limits };
  // Refused before the data directory is even opened.
  const exposure = checkExposure({ host, operators: !!o.operatorsFile, tls: !!o.tls, insecure: !!o.insecure });
  const tls = o.tls ? tlsOptions(o.tls.cert, o.tls.key) : undefined;
  const sidecar = await Sidecar.open(o);
  let tcp: TcpServer | null = null, http: HttpServer | null = null;
  let tcpPort: number | null = null, httpPort: number | null = null;
  let closing = false;
  const prom = prometheus(sidecar);
  // One session per connection: its requests take effect in order (src/session.ts).
  // The session passes the connection on (its peer address throttles failed authentications).
  const sessions = new WeakMap<ConnInfo, Session>();
  const session = (conn: ConnInfo): Session => {
    let s = sessions.get(conn);
    if (!s) { s = new Session({ handle: (m, bearer) => sidecar.handle(m, bearer, conn) }); sessions.set(conn, s); }
    return s;
  };
  try {
    // Audited before anything listens.
    if (!exposure.loopback_only) await sidecar.audit.append('EXPOSURE', 'system', { ...exposure });
    if (o.tcpPort !== null) {
      tcp = new TcpServer({ ...limits, host, port: o.tcpPort ?? 5001, maxConnections: o.maxConnections ?? 1024, maxInFlight: o.maxInFlightPerConnection ?? 1024, tls },
        (req, conn) => session(conn).handle(req));
      tcpPort = await tcp.listen();
    }
    if (o.httpPort !== null) {
      http = new HttpServer({ ...limits, host, port: o.httpPort ?? 8080, maxConnections: o.maxConnections ?? 1024, tls, allowedHosts: o.allowedHosts }, {
        cycle: (req, conn) => session(conn).handle(req),
        command: (req, bearer, conn) => session(conn).handle(req, bearer),
        heartbeat: (conn) => session(conn).handle({ type: 'HEARTBEAT' }),
        health: async () => {
          const r = healthChecks(sidecar.heartbeat());
          return { ok: r.ok, report: { status: r.ok ? 'OK' : 'FAIL', checks: r.checks } };
        },
        metrics: async () => ({ contentType: prom.contentType, body: await prom.metrics() }),
        ready: () => !closing && sidecar.engine.pool.readyWorkers() + (sidecar.engine.pool.threads === 0 ? 1 : 0) > 0,
      });
      httpPort = await http.listen();
    }
    const h = http;
    sidecar.security = () => ({
      host, loopback_only: exposure.loopback_only, tls: exposure.tls, operators: exposure.operators, insecure: exposure.insecure,
      ...(exposure.warnings.length ? { warnings: exposure.warnings } : {}),
      ...(h ? { allowed_hosts: [...h.guard.names], http_refused: { ...h.guard.refused } } : {}),
      auth: { failures: sidecar.operators.throttle.failures, throttled: sidecar.operators.throttle.throttled },
    });
  } catch (e) {
    await tcp?.close();
    await http?.close();
    await sidecar.close();
    throw e;
  }
  return {
    sidecar, tcp, http, tcpPort, httpPort, host, exposure,
    async close() {
      if (closing) return;
      closing = true;
      await Promise.all([tcp?.close(), http?.close()]);
      await sidecar.close();
    },
  };
}
