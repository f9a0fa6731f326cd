// Operators and roles. With no operators file, any operator_id is taken (the
// sidecar listens on loopback only). With one, every command but HEARTBEAT
// names an operator and carries its secret in `auth` (a bearer secret; over
// HTTP, `authorization: Bearer <secret>` works too). The file stores only
// SHA-256 hashes of the secrets, compared in constant time; secrets are never
// logged, echoed or audited.
import { readFileSync } from 'node:fs';
import { createHash, timingSafeEqual } from 'node:crypto';
import { SidecarError } from '../errors.js';

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
  // The weights themselves leave the sidecar: more than a viewer's look.
  EXPORT_MODEL: 'operator',
};

export const OPERATOR_ID = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export type AuthResult = { ok: true; operator: string; role: Role } | { ok: false; message: string };

export class Operators {
  private readonly byId = new Map<string, { role: Role; hash: Buffer }>();

  constructor(readonly specs: OperatorSpec[] | null) {
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

  static fromFile(path: string | undefined): Operators {
    if (!path) return new Operators(null);
    let specs: unknown;
    try {
      specs = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new SidecarError('E_CONFIG', `cannot read the operators file ${path}: ${(e as Error).message}`);
    }
    return new Operators(specs as OperatorSpec[]);
  }

  get enforced(): boolean {
    return this.specs !== null;
  }

  /** Who is asking; with no operators file everyone is an admin (loopback only). */
  authenticate(operatorId: unknown, secret: unknown): AuthResult {
    if (!this.enforced) {
      if (operatorId === undefined) return { ok: true, operator: 'anonymous', role: 'admin' };
      if (typeof operatorId !== 'string' || !OPERATOR_ID.test(operatorId)) return { ok: false, message: 'operator_id must be 1-64 of [A-Za-z0-9._@-]' };
      return { ok: true, operator: operatorId, role: 'admin' };
    }
    const o = typeof operatorId === 'string' ? this.byId.get(operatorId) : undefined;
    const given = createHash('sha256').update(typeof secret === 'string' ? secret : '').digest();
    // Compare even for an unknown operator, so timing does not tell which ids exist.
    const ok = timingSafeEqual(given, o?.hash ?? Buffer.alloc(32)) && o !== undefined && typeof secret === 'string';
    if (!ok) return { ok: false, message: 'unknown operator or wrong credential' };
    return { ok: true, operator: operatorId as string, role: o.role };
  }

  static allows(role: Role, type: string, extra: Role = 'viewer'): boolean {
    const need = REQUIRED_ROLE[type] ?? 'admin';
    return RANK[role] >= Math.max(RANK[need], RANK[extra]);
  }
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
