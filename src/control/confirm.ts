// Two-step confirmation tokens (docs/PROTOCOL.md §4).
//
// A token is "<id>.<secret>": 64 random bits of id (a lookup key, not secret)
// and 192 random bits of secret, compared in constant time. It is bound to
// the command type, a hash of its parameters, the operator it was issued to
// and the control-state version it was issued against; it is single-use and
// expires. Tokens live in memory only: a restart invalidates them all.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { canonical } from '../audit/chain.js';
import type { ErrorCode } from '../errors.js';

interface Issued {
  secret: Buffer;
  type: string;
  paramsHash: string;
  operator: string;
  stateVersion: number;
  expiresAt: number;
  used: boolean;
  twoPerson: boolean;
}

export interface IssuedToken {
  token: string;
  expiresAt: number;
}

export type TokenCheck = { ok: true } | { ok: false; code: ErrorCode; message: string };

export function paramsHash(params: Record<string, unknown>): string {
  return createHash('sha256').update(canonical(params)).digest('hex');
}

export class ConfirmationTokens {
  private readonly issued = new Map<string, Issued>();

  constructor(private readonly ttlMs: number, private readonly clock: () => number = Date.now) {}

  issue(type: string, params: Record<string, unknown>, operator: string, stateVersion: number, twoPerson = false): IssuedToken {
    this.sweep();
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(24);
    const expiresAt = this.clock() + this.ttlMs;
    this.issued.set(id, { secret, type, paramsHash: paramsHash(params), operator, stateVersion, expiresAt, used: false, twoPerson });
    return { token: `${id}.${secret.toString('base64url')}`, expiresAt };
  }

  /**
   * Checks a token for a command and, when it is good, consumes it. Each
   * misuse has its own code; a token that fails a binding check is consumed
   * too, so a guessed or misdirected token cannot be retried.
   */
  redeem(token: unknown, type: string, params: Record<string, unknown>, operator: string, stateVersion: number): TokenCheck {
    const bad = (code: ErrorCode, message: string): TokenCheck => ({ ok: false, code, message });
    if (typeof token !== 'string' || token.length > 200) return bad('E_TOKEN_UNKNOWN', 'confirmation_token is not a token this server issued');
    const dot = token.indexOf('.');
    const rec = dot > 0 ? this.issued.get(token.slice(0, dot)) : undefined;
    const given = dot > 0 ? Buffer.from(token.slice(dot + 1), 'base64url') : Buffer.alloc(0);
    if (!rec || given.length !== rec.secret.length || !timingSafeEqual(given, rec.secret)) {
      return bad('E_TOKEN_UNKNOWN', 'confirmation_token is not a token this server issued (tokens do not survive a restart)');
    }
    if (rec.used) return bad('E_TOKEN_USED', 'this confirmation token was already used');
    if (this.clock() > rec.expiresAt) { rec.used = true; return bad('E_TOKEN_EXPIRED', 'this confirmation token has expired'); }
    if (rec.type !== type) { rec.used = true; return bad('E_TOKEN_TYPE', `this confirmation token was issued for ${rec.type}`); }
    if (rec.twoPerson) {
      if (rec.operator === operator) { rec.used = true; return bad('E_TOKEN_SAME_OPERATOR', 'two-person rule: another operator must confirm'); }
    } else if (rec.operator !== operator) { rec.used = true; return bad('E_TOKEN_OPERATOR', 'this confirmation token was issued to another operator'); }
    if (rec.paramsHash !== paramsHash(params)) { rec.used = true; return bad('E_TOKEN_PARAMS', 'this confirmation token was issued for other parameters'); }
    if (rec.stateVersion !== stateVersion) { rec.used = true; return bad('E_TOKEN_STATE', 'the control state changed since this token was issued; ask again'); }
    rec.used = true;
    return { ok: true };
  }

  /** The operator a (valid) token was issued to, for the two-person rule's audit record. */
  requesterOf(token: string): string | undefined {
    return this.issued.get(token.slice(0, token.indexOf('.')))?.operator;
  }

  private sweep(): void {
    const now = this.clock();
    for (const [id, r] of this.issued) if (now > r.expiresAt + 60_000) this.issued.delete(id);
  }
}
