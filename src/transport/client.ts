// Clients of the wire protocol, used by the CLI, the load generator and the
// end-to-end tests. TCP requests are pipelined: replies come back in request
// order, so a FIFO of waiters matches them. With `tls` both speak TLS,
// verifying the server's certificate against `ca` (or the system's CAs).
import net from 'node:net';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { pack } from './codec.js';
import { BINARY_PREFACE, BinaryFrameDecoder, JsonLineDecoder, encodeFrame, DEFAULT_LIMITS } from './framing.js';

/** TLS for a client: the CA that signed the server's certificate (PEM), or the system's when absent. */
export interface ClientTls {
  ca?: string | Buffer;
  /** The name to verify the certificate against, when it is not the host dialled. */
  servername?: string;
}

type Waiter = { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void };

export class TcpClient {
  private readonly waiters: Waiter[] = [];
  private readonly json = new JsonLineDecoder({ ...DEFAULT_LIMITS, maxRequestBytes: 64 << 20, maxDepth: 256 });
  private readonly bin = new BinaryFrameDecoder({ ...DEFAULT_LIMITS, maxRequestBytes: 64 << 20, maxDepth: 256 });
  private closedError: Error | null = null;

  private constructor(readonly socket: net.Socket, readonly mode: 'json' | 'binary') {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      for (const d of mode === 'binary' ? this.bin.push(chunk) : this.json.push(chunk)) {
        const w = this.waiters.shift();
        if (!w) continue;
        if (d.ok) w.resolve(d.value as Record<string, unknown>);
        else w.reject(new Error(`bad reply: ${d.message}`));
      }
    });
    const fail = (e: Error) => {
      this.closedError = e;
      for (const w of this.waiters.splice(0)) w.reject(e);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  static connect(host: string, port: number, mode: 'json' | 'binary' = 'json', secure?: ClientTls): Promise<TcpClient> {
    return new Promise((resolve, reject) => {
      const ready = () => {
        s.off('error', reject);
        if (mode === 'binary') s.write(BINARY_PREFACE);
        resolve(new TcpClient(s, mode));
      };
      // 'secureConnect' comes after the handshake and the certificate check.
      const s: net.Socket = secure
        ? tls.connect({ host, port, ca: secure.ca, servername: secure.servername }, ready)
        : net.connect({ host, port }, ready);
      s.once('error', reject);
    });
  }

  request(req: unknown): Promise<Record<string, unknown>> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.socket.write(this.mode === 'binary' ? encodeFrame(pack(req)) : JSON.stringify(req) + '\n');
    });
  }

  /** Raw bytes, for tests of malformed input; the reply (if any) resolves as usual. */
  raw(bytes: Buffer | string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.socket.write(bytes);
    });
  }

  close(): void {
    this.socket.end();
  }
}

export class HttpClient {
  private readonly agent: http.Agent;
  private readonly lib: typeof http | typeof https;
  constructor(readonly host: string, readonly port: number, maxSockets = 16, secure?: ClientTls) {
    this.lib = secure ? https : http;
    this.agent = secure ? new https.Agent({ keepAlive: true, maxSockets, ca: secure.ca, servername: secure.servername }) : new http.Agent({ keepAlive: true, maxSockets });
  }

  request(method: 'GET' | 'POST', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = this.lib.request({ host: this.host, port: this.port, method, path, agent: this.agent,
        headers: { ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}), ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown>;
          try { parsed = JSON.parse(text) as Record<string, unknown>; } catch { parsed = { text }; }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(data);
    });
  }

  cycle(req: unknown) { return this.request('POST', '/v1/cycle', req); }
  command(req: unknown, bearer?: string) { return this.request('POST', '/v1/command', req, bearer ? { authorization: `Bearer ${bearer}` } : {}); }

  close(): void {
    this.agent.destroy();
  }
}
