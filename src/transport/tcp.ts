// The TCP transport: NDJSON or binary MessagePack frames on one port
// (docs/PROTOCOL.md §1), pipelined: many requests in flight on a connection,
// replies written in request order.
//
// Drop-in for the runbook's original clients: the server it was written for
// answered one request per connection and closed it, and some of its clients
// read until the server closes. So a connection whose FIRST request is a bare
// JSON object (no newline after it) is answered and then ended, ONE_SHOT_GRACE_MS
// after the reply leaves. Any byte the client sends before the end (a late
// newline, a second request) shows it is a streaming client whose newline
// came in a later TCP read, and the connection stays open. NDJSON and binary
// connections always stay open.
//
// A first request without a newline that never becomes one whole object
// (`[1,2]`, `{..}{..}`, `{"broken":`) would otherwise get no reply and no end,
// and a client reading to EOF would wait forever: after FIRST_REQUEST_IDLE_MS
// without a byte it is taken as if the client had shut down its sending side
// (answered as it stands, E_BAD_JSON when it does not parse) and the
// connection is ended.
//
// Backpressure: a connection stops being read while it has more than
// `maxInFlight` requests unanswered, or while its unsent replies exceed the
// socket's high-water mark (a client that does not read). So a client cannot
// make the server's memory grow without bound, and since every connection is
// paused on its own, a slow or stuck client never delays another's cycles.
//
// With `tls` the port speaks TLS (node:tls) and the same framing inside it.
import net from 'node:net';
import tls, { type SecureContextOptions } from 'node:tls';
import { packFrame } from './codec.js';
import { BINARY_PREFACE, BinaryFrameDecoder, JsonLineDecoder, type Decoded, type Limits } from './framing.js';
import { ERROR_CODES, errorReply, type ErrorCode } from '../errors.js';
import { connInfo, type ConnInfo } from './conn-info.js';

/**
 * Handles one request; `conn` identifies its connection (one object per
 * connection: requests of one connection take effect in order) and says
 * where it comes from (the peer address, for the authentication throttle).
 */
export type Handler = (req: unknown, conn: ConnInfo) => Promise<unknown>;

/**
 * How long a connection whose first request was a bare JSON object stays open
 * after the reply, for a late newline or a next request (see the top). A
 * client that writes an object and its newline in two writes sends them
 * microseconds apart; 50 ms covers a busy machine's scheduling delays and is
 * short next to what a reader to EOF waits for the end.
 */
export const ONE_SHOT_GRACE_MS = 50;
/**
 * How long the bytes of a first request without a newline that is not one
 * whole object may sit without another byte before they are answered as they
 * stand and the connection is ended (see the top). Long next to the gaps
 * between the chunks of one request a live client sends.
 */
export const FIRST_REQUEST_IDLE_MS = 2000;

export interface TcpOptions extends Limits {
  host: string;
  port: number;
  maxConnections: number;
  /** Unanswered requests per connection before it stops being read. */
  maxInFlight: number;
  /** Default ONE_SHOT_GRACE_MS. */
  oneShotGraceMs?: number;
  /** Default FIRST_REQUEST_IDLE_MS. */
  firstRequestIdleMs?: number;
  /** Certificate and key: the port speaks TLS. */
  tls?: SecureContextOptions;
}

export interface TransportStats {
  connections: number;
  requests: number;
  badFrames: number;
  refusedConnections: number;
}

interface Slot { done: boolean; reply: unknown }

interface Conn {
  socket: net.Socket;
  info: ConnInfo;
  mode: 'unknown' | 'json' | 'binary';
  pending: Buffer | null;
  json: JsonLineDecoder;
  bin: BinaryFrameDecoder;
  /** Replies in request order; a slot is filled when its request is answered. */
  queue: Slot[];
  closing: boolean;
  paused: boolean;
  /** Requests decoded but not yet dispatched (the rest of a chunk past maxInFlight). */
  backlog: Decoded[];
  /** Requests dispatched on this connection so far. */
  served: number;
  /** The first request was a bare JSON object: end the connection after its reply (see the top). */
  oneShot: boolean;
  /** The one-shot grace period after the reply, or the idle limit of an incomplete first request (see the top). */
  timer: NodeJS.Timeout | null;
  /** The peer shut down its sending side: end ours once every request is answered. */
  peerEnded: boolean;
  /** Replies in order, not yet written: JSON text, or binary frames. */
  outText: string;
  outBin: Buffer[];
  flushScheduled: boolean;
}

export class TcpServer {
  readonly stats: TransportStats = { connections: 0, requests: 0, badFrames: 0, refusedConnections: 0 };
  private readonly server: net.Server;
  private readonly conns = new Set<Conn>();
  private draining = false;

  constructor(private readonly opts: TcpOptions, private readonly handler: Handler) {
    // A TLS connection is accepted once its handshake is done; a client that
    // speaks plain text to a TLS port fails the handshake and is dropped.
    // allowHalfOpen: a client that shuts down its sending side after its
    // request (as clients of one-request-per-connection servers do) still
    // gets its replies; the connection is ended once they are written.
    this.server = opts.tls
      ? tls.createServer({ ...opts.tls, noDelay: true, allowHalfOpen: true }, (s) => this.accept(s))
      : net.createServer({ noDelay: true, allowHalfOpen: true }, (s) => this.accept(s));
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  get inFlight(): number {
    let n = 0;
    for (const c of this.conns) n += c.queue.filter((q) => !q.done).length;
    return n;
  }

  private accept(socket: net.Socket): void {
    if (this.conns.size >= this.opts.maxConnections || this.draining) {
      this.stats.refusedConnections++;
      const code: ErrorCode = this.draining ? 'E_SHUTTING_DOWN' : 'E_TOO_MANY_CONNECTIONS';
      socket.end(JSON.stringify(errorReply(code, ERROR_CODES[code].what)) + '\n');
      return;
    }
    this.stats.connections++;
    const c: Conn = { socket, info: connInfo(socket, 'tcp', this.opts.tls !== undefined), mode: 'unknown', pending: null, json: new JsonLineDecoder(this.opts), bin: new BinaryFrameDecoder(this.opts), queue: [], closing: false, paused: false, backlog: [], served: 0, oneShot: false, timer: null, peerEnded: false, outText: '', outBin: [], flushScheduled: false };
    this.conns.add(c);
    socket.on('data', (chunk: Buffer) => this.onData(c, chunk));
    socket.on('drain', () => this.maybeResume(c));
    socket.on('end', () => this.onEnd(c));
    socket.on('error', () => { /* reset by peer: 'close' follows */ });
    socket.on('close', () => { this.clearTimer(c); this.conns.delete(c); });
  }

  private clearTimer(c: Conn): void {
    if (c.timer) { clearTimeout(c.timer); c.timer = null; }
  }

  private onData(c: Conn, chunk: Buffer): void {
    if (c.closing) return;
    c.oneShot = false; // more bytes before the end: a streaming client after all
    this.clearTimer(c);
    if (c.mode === 'unknown') {
      const head = c.pending ? Buffer.concat([c.pending, chunk]) : chunk;
      if (head[0] === BINARY_PREFACE[0]) {
        if (head.length < 4) { c.pending = head; return; }
        if (head.subarray(0, 4).equals(BINARY_PREFACE)) {
          c.mode = 'binary';
          c.pending = null;
          chunk = head.subarray(4);
        } else {
          c.mode = 'json'; // not our preface: it will fail as JSON, with a reply
          chunk = head;
        }
      } else {
        c.mode = 'json';
        chunk = head;
      }
      c.pending = null;
    }
    c.backlog.push(...(c.mode === 'binary' ? c.bin.push(chunk) : c.json.push(chunk)));
    this.drainBacklog(c);
    if (c.mode === 'json' && c.served === 0 && !c.closing && c.backlog.length === 0 && c.json.hasPartial()) {
      c.timer = setTimeout(() => this.firstRequestIdle(c), this.opts.firstRequestIdleMs ?? FIRST_REQUEST_IDLE_MS);
    }
  }

  /** A first request without a newline, idle too long: answer it as it stands, then end (see the top). */
  private firstRequestIdle(c: Conn): void {
    c.timer = null;
    if (c.closing || c.served > 0 || c.peerEnded) return;
    c.backlog.push(...c.json.finish());
    this.drainBacklog(c);
    // A parse error already closes the stream (dispatch); a request that
    // parsed (`[1,2]`: E_UNKNOWN_MESSAGE) is answered, then the stream ends.
    if (!c.closing) { c.closing = true; c.socket.pause(); }
  }

  /** The grace period after a one-shot reply is over with no byte from the client: end, as the runbook's original server did. */
  private oneShotEnd(c: Conn): void {
    c.timer = null;
    if (!c.oneShot || c.closing || c.queue.length > 0 || c.backlog.length > 0) return;
    c.closing = true;
    c.socket.pause();
    c.socket.destroySoon();
  }

  /** The peer sent FIN: answer what it sent (a last request may lack its newline), then end. */
  private onEnd(c: Conn): void {
    c.peerEnded = true;
    if (!c.closing && c.mode !== 'binary') {
      c.backlog.push(...c.json.finish());
      this.drainBacklog(c);
    }
    this.endIfDone(c);
  }

  private endIfDone(c: Conn): void {
    if (c.peerEnded && !c.closing && c.queue.length === 0 && c.backlog.length === 0 && !c.flushScheduled) {
      c.closing = true;
      c.socket.destroySoon();
    }
  }

  /** Dispatches decoded requests while under maxInFlight; otherwise stops reading the socket. */
  private drainBacklog(c: Conn): void {
    while (c.backlog.length > 0 && !c.closing) {
      if (c.queue.length >= this.opts.maxInFlight) {
        if (!c.paused) { c.paused = true; c.socket.pause(); }
        return;
      }
      this.dispatch(c, c.backlog.shift()!);
    }
  }

  private dispatch(c: Conn, r: Decoded): void {
    const slot: Slot = { done: false, reply: null };
    c.queue.push(slot);
    if (!r.ok) {
      // Unparseable or oversized: answer, then close this stream (only this one).
      this.stats.badFrames++;
      c.closing = true;
      c.socket.pause();
      this.fill(c, slot, errorReply(r.code, r.message));
      return;
    }
    this.stats.requests++;
    if (r.bare && c.served === 0 && c.mode === 'json') c.oneShot = true;
    c.served++;
    this.handler(r.value, c.info).then((reply) => this.fill(c, slot, reply), (e: unknown) =>
      this.fill(c, slot, errorReply('E_INTERNAL', (e as Error)?.message ?? String(e))));
  }

  private fill(c: Conn, slot: Slot, reply: unknown): void {
    slot.done = true;
    slot.reply = reply;
    // Move every answered reply at the head of the queue, in order, to the
    // connection's output; it is written once, when the replies answered in
    // this turn of the event loop are all in (docs/CPU.md: one write, so one
    // syscall, per connection per turn instead of one per reply).
    while (c.queue.length > 0 && c.queue[0].done) {
      const r = c.queue.shift()!.reply;
      if (c.mode === 'binary') c.outBin.push(packFrame(r));
      else c.outText += JSON.stringify(r) + '\n';
    }
    if (!c.flushScheduled) {
      c.flushScheduled = true;
      // After the promise reactions of this turn (the rest of a batch's replies).
      process.nextTick(() => this.flush(c));
    }
  }

  private flush(c: Conn): void {
    c.flushScheduled = false;
    if (!c.socket.destroyed && !c.socket.writableEnded) {
      if (c.outText !== '') c.socket.write(c.outText);
      else if (c.outBin.length > 0) c.socket.write(c.outBin.length === 1 ? c.outBin[0] : Buffer.concat(c.outBin));
    }
    c.outText = '';
    c.outBin = [];
    // A one-shot client (a bare first request) has its answer: end after the
    // grace period, unless a byte comes first (onData clears the timer).
    if (c.oneShot && c.queue.length === 0 && c.backlog.length === 0 && !c.closing && !c.timer) {
      c.timer = setTimeout(() => this.oneShotEnd(c), this.opts.oneShotGraceMs ?? ONE_SHOT_GRACE_MS);
    }
    // Closing after an error: end our side once the replies are flushed, and
    // destroy then. A plain end() on a paused socket would never see the
    // peer's FIN, and the half-open connection would count against the limit.
    if (c.closing && c.queue.length === 0) c.socket.destroySoon();
    else if (c.peerEnded && c.queue.length === 0 && c.backlog.length === 0) this.endIfDone(c);
    else if (c.socket.writableLength >= c.socket.writableHighWaterMark) {
      // The client is not reading its replies: stop reading its requests.
      if (!c.paused) { c.paused = true; c.socket.pause(); }
    } else this.maybeResume(c);
  }

  private maybeResume(c: Conn): void {
    if (!c.paused || c.closing) return;
    if (c.queue.length < this.opts.maxInFlight / 2 && c.socket.writableLength < c.socket.writableHighWaterMark) {
      this.drainBacklog(c);
      if (c.backlog.length === 0 && c.queue.length < this.opts.maxInFlight) {
        c.paused = false;
        c.socket.resume();
      }
    }
  }

  /** Stops accepting, waits for every in-flight reply to be written, then closes. */
  async close(timeoutMs = 5000): Promise<void> {
    this.draining = true;
    const t0 = Date.now();
    for (const c of this.conns) { this.clearTimer(c); c.socket.pause(); c.closing = true; }
    // (A reply moved to a connection's output is written on the next tick: flushScheduled.)
    // The listener stays open while the replies in flight are written, so a
    // client that connects meanwhile is told why (E_SHUTTING_DOWN) instead of
    // meeting a refused connection.
    while ([...this.conns].some((c) => c.queue.length > 0 || c.flushScheduled) && Date.now() - t0 < timeoutMs) await new Promise((r) => setTimeout(r, 5));
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const c of this.conns) c.socket.end();
    await Promise.race([closed, new Promise((r) => setTimeout(r, 200))]);
    for (const c of this.conns) c.socket.destroy();
  }
}
