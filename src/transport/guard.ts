// The checks every HTTP request passes before anything else runs
// (docs/SECURITY.md). A browser on the sidecar's host reaches loopback on
// behalf of whatever page it has open, so loopback alone proves nothing:
//
// - Host: only loopback names, the listen address and --allowed-host names
//   are served. A DNS-rebinding page (its own name resolved to 127.0.0.1)
//   sends its own name in Host, and is refused even for reads (E_HOST, 421).
// - Origin / Sec-Fetch-Site: a request a page of another origin makes is
//   refused (E_ORIGIN, 403). Browsers send Origin on every cross-origin POST,
//   form or fetch, "no-cors" or not; Sec-Fetch-Site covers the rest in
//   current browsers. No CORS header is ever sent, so a preflight gets no
//   permission either.
// - Content type: a POST body must be application/json or
//   application/msgpack (E_UNSUPPORTED_MEDIA_TYPE, 415). Those are not
//   "simple" types: a browser sends them cross-origin only after a preflight,
//   which is refused. text/plain, forms and no type at all are what a page can
//   send without asking.
//
// Clients that are not browsers (the CLI, agents, curl) send none of Origin
// or Sec-Fetch-Site, a Host naming the address they dialled, and a JSON or
// MessagePack type: they pass.
import { isIP } from 'node:net';
import os from 'node:os';
import type { IncomingHttpHeaders } from 'node:http';

export const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];

export const ACCEPTED_MEDIA_TYPES = ['application/json', 'application/msgpack'];

export type GuardCode = 'E_HOST' | 'E_ORIGIN' | 'E_UNSUPPORTED_MEDIA_TYPE';

export interface Refusal {
  code: GuardCode;
  message: string;
}

export interface GuardOptions {
  /** The address the server listens on (--host). */
  listenHost: string;
  /** Extra names served (--allowed-host), e.g. the name a proxy or a peer dials. */
  allowedHosts?: string[];
  scheme: 'http' | 'https';
}

/** Lower case, no IPv6 brackets, no trailing dot (`LOCALHOST.` is `localhost`). */
export function normalizeName(name: string): string {
  let n = name.trim().toLowerCase();
  if (n.startsWith('[') && n.endsWith(']')) n = n.slice(1, -1);
  if (n.endsWith('.')) n = n.slice(0, -1);
  return n;
}

/** The host name of a Host header value (`name`, `name:port`, `[v6]:port`), or null when malformed. */
export function hostOf(header: string): string | null {
  const h = header.trim();
  if (h === '') return null;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return null;
    const rest = h.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return null;
    return normalizeName(h.slice(0, end + 1));
  }
  const parts = h.split(':');
  if (parts.length > 2) return null; // a bare IPv6 address must be bracketed
  if (parts.length === 2 && !/^\d{1,5}$/.test(parts[1])) return null;
  return normalizeName(parts[0]);
}

export function isWildcard(host: string): boolean {
  const n = normalizeName(host);
  return n === '' || n === '0.0.0.0' || n === '::';
}

/** A loopback address or `localhost`: only processes on this host can reach it. */
export function isLoopbackHost(host: string): boolean {
  const n = normalizeName(host);
  if (n === 'localhost' || n === '::1') return true;
  if (isIP(n) === 4) return n.startsWith('127.');
  return n.startsWith('::ffff:127.');
}

/**
 * The host names served: loopback names, the listen address (and, when that
 * is a wildcard, every address of this machine's interfaces: an IP literal
 * cannot be rebound, a page that names it is on another origin), and the
 * configured extra names.
 */
export function servedNames(o: GuardOptions): Set<string> {
  const names = new Set(LOOPBACK_NAMES);
  if (isWildcard(o.listenHost)) {
    for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) names.add(normalizeName(a.address.split('%')[0]));
  } else names.add(normalizeName(o.listenHost));
  for (const h of o.allowedHosts ?? []) names.add(normalizeName(h));
  return names;
}

export class HttpGuard {
  readonly names: Set<string>;
  /** The port the server listens on; own origins carry it. Set after listen. */
  port = 0;
  readonly refused: Record<GuardCode, number> = { E_HOST: 0, E_ORIGIN: 0, E_UNSUPPORTED_MEDIA_TYPE: 0 };

  constructor(private readonly o: GuardOptions) {
    this.names = servedNames(o);
  }

  /**
   * The last Host header value that passed, as received: a client sends the
   * same one on every request, so the parse runs once per new value, not per
   * request (docs/CPU.md).
   */
  private hostPassed: string | undefined;

  /** Null when the request may go on; otherwise why not (and it is counted). */
  check(method: string | undefined, headers: IncomingHttpHeaders): Refusal | null {
    // The common request of an agent: a Host that passed before, no Origin,
    // no Sec-Fetch-Site, and exactly `application/json` or no body.
    if (headers.host === this.hostPassed && headers.host !== undefined && headers.origin === undefined && headers['sec-fetch-site'] === undefined
      && (method !== 'POST' || headers['content-type'] === 'application/json')) return null;
    const r = this.why(method, headers);
    if (r) this.refused[r.code]++;
    return r;
  }

  /** Is `origin` one of the sidecar's own (scheme, a served name, our port)? */
  ownOrigin(origin: string): boolean {
    let u: URL;
    try { u = new URL(origin); } catch { return false; }
    if (u.protocol !== `${this.o.scheme}:`) return false;
    const port = u.port || (this.o.scheme === 'https' ? '443' : '80');
    return port === String(this.port) && this.names.has(normalizeName(u.hostname));
  }

  private why(method: string | undefined, headers: IncomingHttpHeaders): Refusal | null {
    // HTTP/1.1 requires Host (Node answers 400 without one); only HTTP/1.0
    // may omit it, and browsers always send it, so no Host is no browser.
    if (headers.host !== undefined) {
      const name = hostOf(headers.host);
      if (name === null || !this.names.has(name)) {
        return { code: 'E_HOST', message: `Host ${JSON.stringify(headers.host.slice(0, 100))} is not served: use a loopback name, the listen address, or start the server with --allowed-host NAME` };
      }
    }
    // Only a Host that passed is remembered (none, for HTTP/1.0, never is).
    if (headers.host !== undefined) this.hostPassed = headers.host;
    const origin = headers.origin;
    if (origin !== undefined && !this.ownOrigin(origin)) {
      return { code: 'E_ORIGIN', message: `requests from the web origin ${JSON.stringify(origin.slice(0, 100))} are refused` };
    }
    const site = headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      return { code: 'E_ORIGIN', message: `a ${site} request from a web page is refused` };
    }
    if (method === 'POST') {
      const type = (headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      if (!ACCEPTED_MEDIA_TYPES.includes(type)) {
        return { code: 'E_UNSUPPORTED_MEDIA_TYPE', message: `content-type ${type ? JSON.stringify(type.slice(0, 100)) : '(none)'} is not accepted: send application/json or application/msgpack` };
      }
    }
    return null;
  }
}
