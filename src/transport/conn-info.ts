// What the transports know about the connection a request came on. The
// control plane uses the peer address to throttle failed authentications
// (src/control/auth-throttle.ts); the address is never trusted for anything
// else (no allow-listing by IP: a proxy or NAT can share one address).
import type net from 'node:net';
import { isIPv6 } from 'node:net';

export interface ConnInfo {
  transport: 'tcp' | 'http';
  /** The peer's address as the socket saw it ('::ffff:' mapping removed). */
  remoteAddress: string;
  tls: boolean;
}

export function connInfo(socket: net.Socket, transport: ConnInfo['transport'], tls: boolean): ConnInfo {
  return { transport, remoteAddress: plainAddress(socket.remoteAddress ?? 'unknown'), tls };
}

export function plainAddress(a: string): string {
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

/**
 * The key a peer address is throttled under. An IPv6 host usually holds a
 * whole /64 (SLAAC, privacy addresses), so one address per attempt would
 * dodge a per-address limit: IPv6 peers are keyed by their /64.
 */
export function peerKey(address: string | undefined): string {
  if (address === undefined) return 'in-process';
  const a = plainAddress(address);
  if (!isIPv6(a)) return a;
  const [head, tail = ''] = a.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = a.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return groups.slice(0, 4).map((g) => parseInt(g || '0', 16).toString(16)).join(':') + '::/64';
}
