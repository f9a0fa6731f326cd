// Throttling of failed authentications (docs/SECURITY.md, "Secrets").
//
// Two budgets of failures, each a token bucket (a burst, then a slow refill):
//
// - per peer address (an IPv6 peer by its /64): a peer that keeps guessing,
//   at any operator, is refused with E_AUTH_THROTTLED until its budget
//   refills. Only that peer: the other peers are not affected.
// - per operator: when one operator's secret is guessed at from many peers,
//   its budget runs out and the operator is "guarded": from then on a peer
//   that has failed for this operator recently is refused, while a peer that
//   has not (the legitimate operator's usual machines) still gets its
//   credential checked. A distributed guesser gets one guess per address,
//   and the legitimate operator is never locked out of its other peers.
//
// A throttled attempt is refused without its credential being checked, or
// a correct guess would still be recognised. Successes refill nothing (an
// attacker who knows one secret must not be able to buy guesses at another),
// but one clears the "failed recently" mark of its own (operator, peer).
// State is bounded (maxKeys per map, least recently touched evicted) so a
// spray of operator ids or addresses cannot grow memory without bound.

export interface ThrottleConfig {
  /** Failures a peer may make at once before it is throttled. */
  peerBurst: number;
  /** Failures a peer regains per minute. */
  peerPerMinute: number;
  /** Failures for one operator (all peers) before it is guarded. */
  operatorBurst: number;
  operatorPerMinute: number;
  /** How long a failure marks an (operator, peer) pair as suspect, ms. */
  suspectMs: number;
  maxKeys: number;
}

export const DEFAULT_THROTTLE: ThrottleConfig = {
  peerBurst: 10, peerPerMinute: 6, operatorBurst: 20, operatorPerMinute: 6, suspectMs: 15 * 60_000, maxKeys: 10_000,
};

interface Bucket { tokens: number; at: number }

export type ThrottleVerdict = { ok: true } | { ok: false; scope: 'peer' | 'operator'; retryAfterS: number };

export class AuthThrottle {
  private readonly peers = new Map<string, Bucket>();
  private readonly operators = new Map<string, Bucket>();
  private readonly suspects = new Map<string, number>();
  failures = 0;
  throttled = 0;

  constructor(readonly config: ThrottleConfig = DEFAULT_THROTTLE, private readonly clock: () => number = Date.now) {}

  /** May this peer try a credential for this operator now? */
  check(operator: string, peer: string): ThrottleVerdict {
    const now = this.clock();
    const p = this.level(this.peers, peer, this.config.peerBurst, this.config.peerPerMinute, now);
    if (p < 1) return this.refuse('peer', p, this.config.peerPerMinute);
    const o = this.level(this.operators, operator, this.config.operatorBurst, this.config.operatorPerMinute, now);
    if (o < 1) {
      const at = this.suspects.get(pairKey(operator, peer));
      if (at !== undefined && now - at < this.config.suspectMs) return this.refuse('operator', o, this.config.operatorPerMinute);
    }
    return { ok: true };
  }

  /** A credential checked and found wrong. */
  failed(operator: string, peer: string): void {
    const now = this.clock();
    this.failures++;
    this.take(this.peers, peer, this.config.peerBurst, this.config.peerPerMinute, now);
    this.take(this.operators, operator, this.config.operatorBurst, this.config.operatorPerMinute, now);
    touch(this.suspects, pairKey(operator, peer), now, this.config.maxKeys);
  }

  succeeded(operator: string, peer: string): void {
    this.suspects.delete(pairKey(operator, peer));
  }

  private refuse(scope: 'peer' | 'operator', level: number, perMinute: number): ThrottleVerdict {
    this.throttled++;
    return { ok: false, scope, retryAfterS: Math.max(1, Math.ceil(((1 - level) * 60) / perMinute)) };
  }

  /** Tokens in a bucket now (a missing bucket is full). */
  private level(m: Map<string, Bucket>, key: string, burst: number, perMinute: number, now: number): number {
    const b = m.get(key);
    if (!b) return burst;
    return Math.min(burst, b.tokens + ((now - b.at) / 60_000) * perMinute);
  }

  private take(m: Map<string, Bucket>, key: string, burst: number, perMinute: number, now: number): void {
    // Under a sustained attack the debt grows, to at most one burst.
    const tokens = Math.max(-burst, this.level(m, key, burst, perMinute, now) - 1);
    touch(m, key, { tokens, at: now }, this.config.maxKeys);
  }
}

function pairKey(operator: string, peer: string): string {
  return `${operator}\u0000${peer}`;
}

/** Sets m[key] = v as the most recently touched entry; evicts the least recent beyond max. */
function touch<V>(m: Map<string, V>, key: string, v: V, max: number): void {
  m.delete(key);
  m.set(key, v);
  while (m.size > max) m.delete(m.keys().next().value as string);
}
