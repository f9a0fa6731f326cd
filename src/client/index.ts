// The package's public entry: `import { ShadowpathClient } from 'shadowpath'`.
//
// One TCP connection, NDJSON lines or binary MessagePack frames (PROTOCOL
// section 1), pipelined: any number of requests in flight, replies matched in
// order (the server answers in request order). Commands with the two-step
// confirmation, HEARTBEAT, and reconnection with exponential backoff.
//
// What happens to requests around a lost connection is the one decision
// here: a request that was written and not answered is REJECTED to its
// caller (E_CONNECTION_LOST), never re-sent, because neither a cycle (it
// teaches the candidate, it moves the agent's clock) nor a mutating command
// is safe to run twice. A request made while the connection is down has not
// been sent: it waits for the reconnection (up to its timeout) and goes then.
//
// With `tls`, the same over TLS (node:tls), the server's certificate checked.
// A failed handshake (an untrusted certificate, a wrong name, a server that
// does not speak TLS) is E_TLS, at once: trying again would fail again.
import net from 'node:net';
import tls from 'node:tls';
import { EventEmitter } from 'node:events';
import { pack } from '../transport/codec.js';
import { BINARY_PREFACE, BinaryFrameDecoder, JsonLineDecoder, encodeFrame } from '../transport/framing.js';
import type { CycleReply, ErrorReply, FailureMode, PolicySource } from '../engine/types.js';

export type { CycleReply, ErrorReply, FailureMode, PolicySource };

export interface CycleRequest {
  agent_id?: string;
  state_version?: number;
  state: Record<string, unknown>;
  intent_taken?: string;
  result?: {
    status?: string;
    failure_reason?: string;
    safety_flags?: { is_blocked?: boolean; on_cooldown?: boolean; violation?: boolean };
    outcomes?: Record<string, number | boolean>;
  };
}

export type CommandReply = Record<string, unknown> & {
  status: 'OK' | 'REQUIRED_CONFIRMATION' | 'REJECTED' | 'ERROR';
  error?: { code: string; message: string };
  audit_seq?: number | null;
  audit_hash?: string | null;
  confirmation_token?: string;
  summary?: string;
};

/** Client-side failures; `code` is stable (registered in the server's error registry too). */
export class ShadowpathClientError extends Error {
  constructor(readonly code: 'E_CONNECTION_LOST' | 'E_REQUEST_TIMEOUT' | 'E_CLIENT_CLOSED' | 'E_TLS', message: string) {
    super(message);
    this.name = 'ShadowpathClientError';
  }
}

/** TLS settings of a client; `true` is `{}`: the system's CAs, the name dialled. */
export interface ClientTlsOptions {
  /** The CA(s) that signed the server's certificate, PEM (text or Buffer); for a self-signed certificate, the certificate itself. Default: the system's CAs. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** The name the certificate must carry, when it is not `host` (e.g. `host: '10.0.0.5'`, certificate for `sidecar.internal`). */
  servername?: string;
  /** false turns the certificate check off: anyone on the path can then read and change the traffic, secrets included. For a throwaway test only. Default true. */
  rejectUnauthorized?: boolean;
}

export interface ClientOptions {
  host?: string;
  /** TCP port of `shadowpath serve` (default 5001). */
  port?: number;
  /** 'json' (NDJSON lines, the default) or 'binary' (MessagePack frames). */
  transport?: 'json' | 'binary';
  /** operator_id of commands (default: none; HEARTBEAT needs none). */
  operatorId?: string;
  /** The operator's secret, sent as `auth` with each command. Never logged by the server. */
  auth?: string;
  /** A request not answered within this is rejected (E_REQUEST_TIMEOUT) and the connection reset (default 10,000 ms). */
  requestTimeoutMs?: number;
  /** `connect()` gives up after this long without a connection (default 5,000 ms). */
  connectTimeoutMs?: number;
  /** Reconnection after a lost connection: delays double from `initialDelayMs` to `maxDelayMs`, with jitter. */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number; enabled?: boolean };
  /** Requests waiting for a reconnection at most (default 10,000); beyond, E_CONNECTION_LOST at once. */
  maxQueued?: number;
  /** Speak TLS (a server started with `--tls-cert/--tls-key`), checking its certificate. Default: plain TCP. */
  tls?: true | ClientTlsOptions;
}

export interface CommandOptions {
  /** Confirm a two-step command: true, or a function shown the first reply (its `summary`) that decides. Default: return the REQUIRED_CONFIRMATION reply. */
  confirm?: boolean | ((first: CommandReply) => boolean | Promise<boolean>);
  operatorId?: string;
  auth?: string;
}

interface Waiter {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | null;
  bytes: Buffer | null; // set while queued (not yet written)
}

const DECODER_LIMITS = { maxRequestBytes: 256 << 20, maxDepth: 256 };

/**
 * Events: 'connect' (every successful connection, the first included),
 * 'disconnect' (error), 'reconnecting' ({attempt, delayMs}).
 */
export class ShadowpathClient extends EventEmitter {
  private socket: net.Socket | tls.TLSSocket | null = null;
  private readonly inflight: Waiter[] = [];
  private readonly queued: Waiter[] = [];
  private json = new JsonLineDecoder(DECODER_LIMITS);
  private bin = new BinaryFrameDecoder(DECODER_LIMITS);
  private closed = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  readonly host: string;
  readonly port: number;
  readonly transport: 'json' | 'binary';
  /** Whether the connection speaks TLS. */
  readonly tls: boolean;
  /** Connections made so far (1 after connect(); each reconnection adds one). */
  connections = 0;

  private constructor(private readonly o: ClientOptions) {
    super();
    this.host = o.host ?? '127.0.0.1';
    this.port = o.port ?? 5001;
    this.transport = o.transport ?? 'json';
    this.tls = o.tls !== undefined;
  }

  /** Connects, retrying with backoff for up to `connectTimeoutMs` (the sidecar may be starting). */
  static async connect(o: ClientOptions = {}): Promise<ShadowpathClient> {
    const c = new ShadowpathClient(o);
    const deadline = Date.now() + (o.connectTimeoutMs ?? 5000);
    for (let attempt = 0; ; attempt++) {
      try {
        await c.open();
        return c;
      } catch (e) {
        if (e instanceof ShadowpathClientError && e.code === 'E_TLS') throw e; // not something waiting mends
        const wait = c.backoff(attempt);
        if (Date.now() + wait > deadline) throw new ShadowpathClientError('E_CONNECTION_LOST', `cannot reach shadowpath at ${c.host}:${c.port}: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  get connected(): boolean {
    return this.socket !== null;
  }

  /** Requests written and not yet answered. */
  get pending(): number {
    return this.inflight.length;
  }

  /** One cycle: an observation (and the outcome of the last intent) in, an intent out. */
  cycle(req: CycleRequest): Promise<CycleReply | ErrorReply> {
    return this.request(req) as unknown as Promise<CycleReply | ErrorReply>;
  }

  /** HEARTBEAT: the full status (docs/PROTOCOL.md §5). */
  heartbeat(): Promise<CommandReply> {
    return this.request({ type: 'HEARTBEAT', ...this.envelope({}, true) }) as Promise<CommandReply>;
  }

  /**
   * A command. A two-step one answers REQUIRED_CONFIRMATION with a token;
   * with `confirm`, the same command is sent again with that token and the
   * final reply returned.
   */
  async command(type: string, params: Record<string, unknown> = {}, opts: CommandOptions = {}): Promise<CommandReply> {
    const req = { ...params, type, ...this.envelope(opts, false) };
    const first = (await this.request(req)) as CommandReply;
    if (first.status !== 'REQUIRED_CONFIRMATION' || !opts.confirm) return first;
    const yes = typeof opts.confirm === 'function' ? await opts.confirm(first) : true;
    if (!yes) return first;
    return (await this.request({ ...req, confirmation_token: first.confirmation_token })) as CommandReply;
  }

  /** Any request object, answered in order with the others. */
  request(req: unknown): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new ShadowpathClientError('E_CLIENT_CLOSED', 'the client is closed'));
    const bytes = this.transport === 'binary' ? encodeFrame(pack(req)) : Buffer.from(JSON.stringify(req) + '\n');
    return new Promise((resolve, reject) => {
      const w: Waiter = { resolve, reject, timer: null, bytes };
      const ms = this.o.requestTimeoutMs ?? 10_000;
      if (ms > 0) {
        w.timer = setTimeout(() => {
          const q = this.queued.indexOf(w);
          if (q >= 0) { this.queued.splice(q, 1); reject(new ShadowpathClientError('E_REQUEST_TIMEOUT', `no connection within ${ms} ms`)); return; }
          // Written, not answered: the replies that follow would be matched to
          // the wrong requests, so this connection is done.
          this.fail(new ShadowpathClientError('E_REQUEST_TIMEOUT', `no reply within ${ms} ms`), w);
        }, ms);
      }
      if (this.socket) this.write(w);
      else if (this.o.reconnect?.enabled === false && this.connections > 0) { this.settle(w); reject(new ShadowpathClientError('E_CONNECTION_LOST', 'not connected (reconnection is disabled)')); }
      else if (this.queued.length >= (this.o.maxQueued ?? 10_000)) { this.settle(w); reject(new ShadowpathClientError('E_CONNECTION_LOST', 'not connected, and the queue of waiting requests is full')); }
      else { this.queued.push(w); this.retryTimer?.ref(); }
    });
  }

  /** Closes the connection; requests in flight are rejected (E_CLIENT_CLOSED). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const err = new ShadowpathClientError('E_CLIENT_CLOSED', 'the client was closed');
    for (const w of [...this.inflight.splice(0), ...this.queued.splice(0)]) { this.settle(w); w.reject(err); }
    const s = this.socket;
    this.socket = null;
    if (s) await new Promise<void>((r) => { s.once('close', () => r()); s.end(); setTimeout(() => { s.destroy(); r(); }, 1000).unref(); });
  }

  private envelope(o: CommandOptions, optional: boolean): Record<string, unknown> {
    const op = o.operatorId ?? this.o.operatorId, auth = o.auth ?? this.o.auth;
    if (optional && op === undefined) return {};
    return { ...(op !== undefined ? { operator_id: op } : {}), ...(auth !== undefined ? { auth } : {}) };
  }

  private backoff(attempt: number): number {
    const r = this.o.reconnect ?? {};
    const base = Math.min(r.maxDelayMs ?? 5000, (r.initialDelayMs ?? 100) * 2 ** Math.min(attempt, 20));
    return Math.round(base / 2 + (Math.random() * base) / 2); // jitter: clients that lost one server do not return in step
  }

  private open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const secure = this.o.tls === true ? {} : this.o.tls;
      const s = secure ? this.connectTls(secure) : net.connect({ host: this.host, port: this.port });
      s.setNoDelay(true);
      let tcpUp = false, handshake: NodeJS.Timeout | null = null;
      const onError = (e: Error) => {
        if (handshake) clearTimeout(handshake);
        s.destroy();
        // Reached, then the handshake failed: the certificate or the protocol, not the network.
        reject(secure && tcpUp ? this.tlsError(e, secure) : e);
      };
      s.once('error', onError);
      if (secure) {
        s.once('connect', () => {
          tcpUp = true;
          // A server that never answers the handshake would otherwise hold connect() forever.
          const ms = this.o.connectTimeoutMs ?? 5000;
          handshake = setTimeout(() => s.destroy(new Error(`no TLS handshake within ${ms} ms`)), ms);
        });
      }
      // A TLS socket is usable (and its certificate checked) at 'secureConnect', not at the TCP 'connect'.
      s.once(secure ? 'secureConnect' : 'connect', () => {
        if (handshake) clearTimeout(handshake);
        s.off('error', onError);
        if (this.closed) { s.destroy(); reject(new ShadowpathClientError('E_CLIENT_CLOSED', 'the client was closed')); return; }
        this.json = new JsonLineDecoder(DECODER_LIMITS);
        this.bin = new BinaryFrameDecoder(DECODER_LIMITS);
        if (this.transport === 'binary') s.write(BINARY_PREFACE);
        s.on('data', (chunk: Buffer) => this.onData(chunk));
        s.on('error', () => { /* 'close' follows */ });
        s.on('close', () => { if (this.socket === s) this.lost(new ShadowpathClientError('E_CONNECTION_LOST', 'the connection was closed')); });
        this.socket = s;
        this.connections++;
        this.attempt = 0;
        for (const w of this.queued.splice(0)) this.write(w);
        this.emit('connect');
        resolve();
      });
    });
  }

  private connectTls(o: ClientTlsOptions): tls.TLSSocket {
    return tls.connect({ host: this.host, port: this.port, ca: o.ca, servername: o.servername, rejectUnauthorized: o.rejectUnauthorized ?? true });
  }

  private tlsError(e: Error, o: ClientTlsOptions): ShadowpathClientError {
    const code = (e as NodeJS.ErrnoException).code;
    return new ShadowpathClientError('E_TLS', `TLS handshake with ${this.host}:${this.port} failed (${code ? `${code}: ` : ''}${e.message}); ` +
      `is it a server started with --tls-cert/--tls-key, and is ${o.ca !== undefined ? 'tls.ca the CA of its certificate' : 'its certificate signed by a CA of this system (else pass tls.ca)'}${o.servername ? `, for the name ${o.servername}` : ''}?`);
  }

  private write(w: Waiter): void {
    this.inflight.push(w);
    const b = w.bytes!;
    w.bytes = null;
    this.socket!.write(b);
  }

  private onData(chunk: Buffer): void {
    for (const d of this.transport === 'binary' ? this.bin.push(chunk) : this.json.push(chunk)) {
      const w = this.inflight.shift();
      if (!w) continue;
      this.settle(w);
      if (d.ok) w.resolve(d.value as Record<string, unknown>);
      else w.reject(new ShadowpathClientError('E_CONNECTION_LOST', `unreadable reply: ${d.message}`));
    }
  }

  private settle(w: Waiter): void {
    if (w.timer) clearTimeout(w.timer);
    w.timer = null;
  }

  /** Ends this connection: every request in flight is rejected with `err` (`first` first). */
  private fail(err: Error, first?: Waiter): void {
    const s = this.socket;
    this.lost(err, first);
    s?.destroy();
  }

  private lost(err: Error, first?: Waiter): void {
    this.socket = null;
    for (const w of this.inflight.splice(0)) {
      this.settle(w);
      w.reject(w === first ? err : new ShadowpathClientError('E_CONNECTION_LOST', `the connection was lost before the reply (${err.message}); the request may or may not have been applied`));
    }
    if (this.closed) return;
    this.emit('disconnect', err);
    if (this.o.reconnect?.enabled === false) {
      for (const w of this.queued.splice(0)) { this.settle(w); w.reject(err); }
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    const delayMs = this.backoff(this.attempt++);
    this.emit('reconnecting', { attempt: this.attempt, delayMs });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.open().catch((e: unknown) => {
        // The server is back with a certificate this client does not trust: the
        // requests waiting for it learn why now, not at their timeout.
        if (e instanceof ShadowpathClientError && e.code === 'E_TLS') for (const w of this.queued.splice(0)) { this.settle(w); w.reject(e); }
        this.scheduleReconnect();
      });
    }, delayMs);
    // A client with nothing to send does not keep the process alive just to reconnect.
    if (this.queued.length === 0) this.retryTimer.unref();
  }
}
