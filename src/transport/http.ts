// The HTTP/1.1 transport (docs/PROTOCOL.md §1). JSON bodies, or MessagePack
// with content-type application/msgpack; replies follow `accept`. Status
// codes follow the reply: OK and REQUIRED_CONFIRMATION 200, REJECTED 409
// (403 for E_AUTH, 503 for E_DISK), ERROR 400 (413 for E_TOO_LARGE).
// Every request first passes the guard (guard.ts: Host, Origin, content
// type); with `tls` the server is HTTPS.
import http from 'node:http';
import https from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import { pack } from './codec.js';
import { parseJsonRequest, parseMsgpackRequest, type Limits } from './framing.js';
import { ERROR_CODES, errorReply, type ErrorCode } from '../errors.js';
import { HttpGuard } from './guard.js';
import { connInfo, type ConnInfo } from './conn-info.js';

export interface HttpRoutes {
  // `conn` identifies the connection (one object per socket): requests of one
  // connection take effect in order; it also carries the peer address.
  cycle: (req: unknown, conn: ConnInfo) => Promise<unknown>;
  command: (req: unknown, bearer: string | undefined, conn: ConnInfo) => Promise<unknown>;
  heartbeat: (conn: ConnInfo) => Promise<unknown>;
  health?: () => Promise<{ ok: boolean; report: unknown }>;
  metrics?: () => Promise<{ contentType: string; body: string }>;
  ready: () => boolean;
}

export interface HttpOptions extends Limits {
  host: string;
  port: number;
  maxConnections: number;
  /** Certificate and key: serve HTTPS. */
  tls?: SecureContextOptions;
  /** Host names served besides loopback names and the listen address (--allowed-host). */
  allowedHosts?: string[];
}

export function statusCode(reply: { status?: unknown; error?: { code?: string } }): number {
  const code = reply.error?.code as ErrorCode | undefined;
  if (code && ERROR_CODES[code]) {
    if (reply.status === 'ERROR' || reply.status === 'REJECTED') return code === 'E_AUTH' ? 403 : ERROR_CODES[code].http === 413 ? 413 : ERROR_CODES[code].http;
  }
  if (reply.status === 'REJECTED') return 409;
  if (reply.status === 'ERROR') return 400;
  return 200;
}

export class HttpServer {
  readonly server: http.Server | https.Server;
  readonly guard: HttpGuard;
  requests = 0;
  /** One ConnInfo per socket, so that it identifies the connection (keep-alive: many requests). */
  private readonly conns = new WeakMap<object, ConnInfo>();

  constructor(private readonly opts: HttpOptions, private readonly routes: HttpRoutes) {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      // A cycle takes the fast path: no async function, no promise around the
      // body (docs/CPU.md); everything else goes through handle().
      if (req.method === 'POST' && (req.url === '/v1/cycle' || req.url?.startsWith('/v1/cycle?'))) this.cycle(req, res);
      else void this.handle(req, res);
    };
    this.server = opts.tls
      ? https.createServer({ ...opts.tls, keepAliveTimeout: 30_000, noDelay: true }, handler)
      : http.createServer({ keepAliveTimeout: 30_000, noDelay: true }, handler);
    this.guard = new HttpGuard({ listenHost: opts.host, allowedHosts: opts.allowedHosts, scheme: opts.tls ? 'https' : 'http' });
    this.server.maxConnections = opts.maxConnections;
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        this.guard.port = (this.server.address() as { port: number }).port;
        resolve(this.guard.port);
      });
    });
  }

  private send(res: http.ServerResponse, accept: string | undefined, status: number, body: unknown): void {
    if (accept?.includes('application/msgpack')) {
      const b = pack(body);
      res.writeHead(status, { 'content-type': 'application/msgpack', 'content-length': b.length });
      res.end(b);
    } else {
      // The text as is: Node encodes it into the socket write (no Buffer of our own to allocate and copy).
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    }
  }

  private conn(socket: http.IncomingMessage['socket']): ConnInfo {
    let c = this.conns.get(socket);
    if (!c) { c = connInfo(socket, 'http', this.opts.tls !== undefined); this.conns.set(socket, c); }
    return c;
  }

  private fail(res: http.ServerResponse, accept: string | undefined, code: ErrorCode, message: string): void {
    const body = errorReply(code, message);
    this.send(res, accept, statusCode(body), body);
  }

  /**
   * POST /v1/cycle: the guard, the body, the parse, the engine, the reply,
   * with callbacks rather than awaits (each await is a turn of the microtask
   * queue and a promise per request). The same checks and replies as
   * handle() gives a cycle.
   */
  private cycle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.requests++;
    const accept = req.headers.accept;
    const refusal = this.guard.check(req.method, req.headers);
    if (refusal) {
      res.setHeader('connection', 'close');
      return this.fail(res, accept, refusal.code, refusal.message);
    }
    this.collect(req, (body) => {
      if (body === null) return this.tooLarge(req, res, accept);
      try {
        const d = this.parse(req, body);
        if (!d.ok) return this.fail(res, accept, d.code, d.message);
        const v = d.value as Record<string, unknown> | null;
        if (typeof v === 'object' && v !== null && typeof v.type === 'string') return this.fail(res, accept, 'E_UNKNOWN_MESSAGE', 'a command goes to POST /v1/command');
        // One reaction for both outcomes (a .then and a .catch would be two
        // promises per request); a throw in send is caught here too.
        const failed = (e: unknown) => { if (!res.headersSent) this.fail(res, accept, 'E_INTERNAL', (e as Error)?.message ?? String(e)); };
        this.routes.cycle(v, this.conn(req.socket)).then((r) => {
          try { this.send(res, accept, statusCode(r as Record<string, unknown>), r); } catch (e) { failed(e); }
        }, failed);
      } catch (e) {
        this.fail(res, accept, 'E_INTERNAL', (e as Error)?.message ?? String(e));
      }
    });
  }

  /** The body as its content type says: MessagePack, or JSON (the guard refused any other). */
  private parse(req: http.IncomingMessage, body: Buffer): ReturnType<typeof parseJsonRequest> {
    const type = req.headers['content-type'];
    const msgpack = type !== 'application/json' && (type ?? '').split(';')[0].trim().toLowerCase() === 'application/msgpack';
    return msgpack ? parseMsgpackRequest(body, this.opts) : parseJsonRequest(body.toString('utf8'), this.opts);
  }

  /** A body over the limit: answered, then the connection closes (the rest of the body is not read). */
  private tooLarge(req: http.IncomingMessage, res: http.ServerResponse, accept: string | undefined): void {
    res.setHeader('connection', 'close');
    this.fail(res, accept, 'E_TOO_LARGE', `body over ${this.opts.maxRequestBytes} bytes`);
    res.on('finish', () => req.socket.destroySoon?.());
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.requests++;
    const accept = req.headers.accept;
    const url = (req.url ?? '/').split('?')[0];
    const refusal = this.guard.check(req.method, req.headers);
    if (refusal) {
      // Nothing runs and the body is not read: answer, then close.
      res.setHeader('connection', 'close');
      return this.fail(res, accept, refusal.code, refusal.message);
    }
    try {
      if (req.method === 'GET') {
        if (url === '/healthz') return this.send(res, accept, 200, { status: 'OK' });
        if (url === '/readyz') { const ok = this.routes.ready(); return this.send(res, accept, ok ? 200 : 503, { status: ok ? 'OK' : 'NOT_READY' }); }
        if (url === '/v1/heartbeat') { const r = await this.routes.heartbeat(this.conn(req.socket)) as Record<string, unknown>; return this.send(res, accept, statusCode(r), r); }
        if (url === '/v1/health' && this.routes.health) { const h = await this.routes.health(); return this.send(res, accept, h.ok ? 200 : 503, h.report); }
        if (url === '/metrics' && this.routes.metrics) {
          const m = await this.routes.metrics();
          res.writeHead(200, { 'content-type': m.contentType });
          return void res.end(m.body);
        }
      }
      if (req.method === 'POST' && url === '/v1/command') {
        const body = await new Promise<Buffer | null>((resolve) => this.collect(req, resolve));
        if (body === null) return this.tooLarge(req, res, accept);
        const d = this.parse(req, body);
        if (!d.ok) return this.fail(res, accept, d.code, d.message);
        const v = d.value as Record<string, unknown> | null;
        if (typeof v !== 'object' || v === null || typeof v.type !== 'string') return this.fail(res, accept, 'E_UNKNOWN_MESSAGE', 'a command needs a string `type`');
        const auth = req.headers.authorization;
        const bearer = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
        const r = await this.routes.command(v, bearer, this.conn(req.socket)) as Record<string, unknown>;
        return this.send(res, accept, statusCode(r), r);
      }
      this.fail(res, accept, 'E_NOT_FOUND', `${req.method} ${url} is not served`);
    } catch (e) {
      this.fail(res, accept, 'E_INTERNAL', (e as Error)?.message ?? String(e));
    }
  }

  /**
   * Calls `done` once with the body, or with null as soon as it passes the
   * size limit (declared or read); no promise of its own (the cycle path's
   * callbacks use it as is). A socket error closes the connection: nothing
   * to answer.
   */
  private collect(req: http.IncomingMessage, done: (body: Buffer | null) => void): void {
    const max = this.opts.maxRequestBytes;
    if (Number(req.headers['content-length'] ?? 0) > max) { done(null); return; }
    let first: Buffer | null = null, more: Buffer[] | null = null, size = 0, over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > max) { over = true; done(null); return; }
      if (first === null) first = c; else (more ??= [first]).push(c);
    });
    req.on('end', () => { if (!over) done(more ? Buffer.concat(more) : first ?? Buffer.alloc(0)); });
    req.on('error', () => { /* the socket closes */ });
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => {
      this.server.close(() => r());
      this.server.closeIdleConnections();
      setTimeout(() => { this.server.closeAllConnections(); r(); }, 2000).unref();
    });
  }
}
