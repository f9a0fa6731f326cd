// Operators and roles. With no operators file, any operator_id is taken (the
// sidecar listens on loopback only). With one, every command but HEARTBEAT
// names an operator and carries its secret in `auth` (a bearer secret; over
// HTTP, `authorization: Bearer <secret>` works too). The file stores only
// SHA-256 hashes of the secrets, compared in constant time; secrets are never
// logged, echoed or audited. Failed authentications are throttled per peer
// address and per operator (auth-throttle.ts) and each is reported through
// `onFailure` (the sidecar audits it) with the claimed id and the peer, never
// the secret.
import { readFileSync } from 'node:fs';
import { createHash, timingSafeEqual } from 'node:crypto';
import { SidecarError } from '../errors.js';
import { AuthThrottle, DEFAULT_THROTTLE, type ThrottleConfig } from './auth-throttle.js';
import { peerKey } from '../transport/conn-info.js';

export type Role = 'viewer' | 'operator' | 'admin';

export interface OperatorSpec {
  id: string;
  role: Role;
  /** hex SHA-256 of the secret. */
  secret_sha256: string;
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** The least role allowed to run each command. */
export const REQUIRED_ROLE: Record<string, Role> = {
  HEARTBEAT: 'viewer', LIST_MODELS: 'viewer', GET_MODEL: 'viewer', LIST_INCIDENTS: 'viewer', VERIFY_AUDIT: 'viewer',
  REGISTER_MODEL: 'operator', SET_CANDIDATE_MODEL: 'operator', SET_CANARY_RATIO: 'operator', EMERGENCY_LOCKDOWN: 'operator',
  PROMOTE_CANDIDATE: 'admin', ROLLBACK_MODEL: 'admin', UNRELEASE_LOCKDOWN: 'admin', RESET_FAILURE_STATUS: 'admin',
  END_WATCH: 'admin',
  // The weights themselves leave the sidecar: more than a viewer's look.
  EXPORT_MODEL: 'operator',
};

export const OPERATOR_ID = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export type AuthResult = { ok: true; operator: string; role: Role } | { ok: false; code: 'E_AUTH' | 'E_AUTH_THROTTLED'; message: string };

/** One failed authentication, as audited: no secret, no token. */
export interface AuthFailure {
  /** The operator_id the request claimed (null when it was not a valid id). */
  claimed_operator_id: string | null;
  /** The peer address (an IPv6 peer as its /64), or "in-process". */
  peer: string;
  reason: 'bad_credential' | 'throttled';
  /** For `throttled`: whose budget ran out, and when to retry. */
  scope?: 'peer' | 'operator';
  retry_after_s?: number;
  /** Throttled refusals of this peer since the last one audited (they are audited once a minute per peer). */
  suppressed?: number;
}

export class Operators {
  private readonly byId = new Map<string, { role: Role; hash: Buffer }>();
  readonly throttle: AuthThrottle;
  /** Called on every failed authentication (the sidecar audits it). */
  onFailure?: (f: AuthFailure) => void;
  /** Per peer: when a throttled refusal was last reported, and how many since. */
  private readonly throttleReports = new Map<string, { at: number; suppressed: number }>();

  constructor(readonly specs: OperatorSpec[] | null, private readonly clock: () => number = Date.now, throttle: ThrottleConfig = DEFAULT_THROTTLE) {
    this.throttle = new AuthThrottle(throttle, clock);
    if (specs === null) return;
    if (!Array.isArray(specs)) throw new SidecarError('E_CONFIG', 'operators file: an array of {id, role, secret_sha256} is required');
    for (const [i, s] of specs.entries()) {
      if (typeof s?.id !== 'string' || !OPERATOR_ID.test(s.id)) throw new SidecarError('E_CONFIG', `operators[${i}]: bad id`);
      if (!(s.role in RANK)) throw new SidecarError('E_CONFIG', `operators[${i}]: role must be viewer, operator or admin`);
      if (typeof s.secret_sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(s.secret_sha256)) throw new SidecarError('E_CONFIG', `operators[${i}]: secret_sha256 must be 64 hex digits`);
      if (this.byId.has(s.id)) throw new SidecarError('E_CONFIG', `operators[${i}]: duplicate id`);
      this.byId.set(s.id, { role: s.role, hash: Buffer.from(s.secret_sha256, 'hex') });
    }
  }

  static fromFile(path: string | undefined, clock: () => number = Date.now): Operators {
    if (!path) return new Operators(null, clock);
    let specs: unknown;
    try {
      specs = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new SidecarError('E_CONFIG', `cannot read the operators file ${path}: ${(e as Error).message}`);
    }
    return new Operators(specs as OperatorSpec[], clock);
  }

  get enforced(): boolean {
    return this.specs !== null;
  }

  /**
   * Who is asking; with no operators file everyone is an admin (the server
   * refuses to listen beyond loopback without one, unless --insecure).
   * `peer` is the connection's remote address (undefined: in-process).
   */
  authenticate(operatorId: unknown, secret: unknown, peer?: string): AuthResult {
    if (!this.enforced) {
      if (operatorId === undefined) return { ok: true, operator: 'anonymous', role: 'admin' };
      if (typeof operatorId !== 'string' || !OPERATOR_ID.test(operatorId)) return { ok: false, code: 'E_AUTH', message: 'operator_id must be 1-64 of [A-Za-z0-9._@-]' };
      return { ok: true, operator: operatorId, role: 'admin' };
    }
    // No operator_id is no guess at anyone's secret (an anonymous HEARTBEAT
    // is one): refused as before, neither throttled nor counted.
    if (operatorId === undefined) return { ok: false, code: 'E_AUTH', message: 'an operator_id and its secret are required' };
    const claimed = typeof operatorId === 'string' && OPERATOR_ID.test(operatorId) ? operatorId : null;
    const key = peerKey(peer);
    const subject = claimed ?? '(invalid)';
    const verdict = this.throttle.check(subject, key);
    if (!verdict.ok) {
      this.reportThrottled(claimed, key, verdict.scope, verdict.retryAfterS);
      return { ok: false, code: 'E_AUTH_THROTTLED', message: `too many failed authentications ${verdict.scope === 'peer' ? 'from this address' : 'for this operator from this address'}: retry in ${verdict.retryAfterS} s (the credential was not checked)` };
    }
    const o = claimed !== null ? this.byId.get(claimed) : undefined;
    const given = createHash('sha256').update(typeof secret === 'string' ? secret : '').digest();
    // Compare even for an unknown operator, so timing does not tell which ids exist.
    const ok = timingSafeEqual(given, o?.hash ?? Buffer.alloc(32)) && o !== undefined && typeof secret === 'string';
    if (!ok) {
      this.throttle.failed(subject, key);
      this.onFailure?.({ claimed_operator_id: claimed, peer: key, reason: 'bad_credential' });
      return { ok: false, code: 'E_AUTH', message: 'unknown operator or wrong credential' };
    }
    this.throttle.succeeded(subject, key);
    return { ok: true, operator: claimed!, role: o.role };
  }

  /**
   * Every failed check is audited. A throttled peer can send refusals as fast
   * as it likes (each is a COMMAND record with E_AUTH_THROTTLED already), so
   * its AUTH_FAILURE records are one a minute, counting the ones in between.
   */
  private reportThrottled(claimed: string | null, peer: string, scope: 'peer' | 'operator', retryAfterS: number): void {
    const now = this.clock();
    const r = this.throttleReports.get(peer);
    if (r && now - r.at < 60_000) { r.suppressed++; return; }
    this.throttleReports.delete(peer);
    this.throttleReports.set(peer, { at: now, suppressed: 0 });
    if (this.throttleReports.size > this.throttle.config.maxKeys) this.throttleReports.delete(this.throttleReports.keys().next().value as string);
    this.onFailure?.({ claimed_operator_id: claimed, peer, reason: 'throttled', scope, retry_after_s: retryAfterS, suppressed: r?.suppressed ?? 0 });
  }

  static allows(role: Role, type: string, extra: Role = 'viewer'): boolean {
    const need = REQUIRED_ROLE[type] ?? 'admin';
    return RANK[role] >= Math.max(RANK[need], RANK[extra]);
  }
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
