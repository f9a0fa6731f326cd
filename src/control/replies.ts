// A command's reply: its error shapes (stable codes; a disk's errno becomes
// E_DISK) and its audit record, whose seq and hash the reply carries.
import { SidecarError, errorReply, type ErrorCode } from '../errors.js';
import type { AuditLog } from '../audit/log.js';
import { paramsOf, auditParams } from './params.js';

export type CommandReply = Record<string, unknown> & { status: 'OK' | 'REQUIRED_CONFIRMATION' | 'REJECTED' | 'ERROR' };

/** Appends the audit record of a command and stamps the reply with it (or with the audit's error, when the log refused it). */
export async function auditCommand(audit: AuditLog, req: Record<string, unknown>, operator: string | null, reply: CommandReply, step?: 'request' | 'confirm'): Promise<CommandReply> {
  const type = typeof req.type === 'string' ? req.type.slice(0, 64) : null;
  const params = auditParams(paramsOf(req));
  const payload: Record<string, unknown> = { type, params, status: reply.status };
  if (step) payload.step = step;
  if (reply.error) payload.error = (reply.error as { code: string }).code;
  if (reply.summary) payload.summary = reply.summary;
  if (type === 'PROMOTE_CANDIDATE' && req.force === true && reply.status === 'OK') payload.forced = true;
  if (type === 'HEARTBEAT') delete payload.params;
  try {
    const rec = await audit.append('COMMAND', operator, payload);
    return { ...reply, audit_seq: rec.seq, audit_hash: rec.hash };
  } catch (e) {
    // The reply stands (a refusal stays a refusal, an effect that was made
    // stays made), but it could not be audited: say so.
    const err = fromError(e).error as { code: string; message: string };
    return { ...reply, audit_seq: null, audit_hash: null, audit_error: err };
  }
}

export function isDiskError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  return typeof code === 'string' && code.startsWith('E') && !(e instanceof SidecarError);
}

export function fail(code: ErrorCode, message: string, details?: Record<string, unknown>): CommandReply {
  return errorReply(code, message, details) as unknown as CommandReply;
}

export function fromError(e: unknown): CommandReply {
  if (e instanceof SidecarError) return fail(e.code, e.message, e.details);
  const errno = (e as NodeJS.ErrnoException)?.code;
  if (typeof errno === 'string' && errno.startsWith('E')) return fail('E_DISK', `write failed (${errno}): ${(e as Error).message}`);
  return fail('E_INTERNAL', (e as Error)?.message ?? String(e));
}
