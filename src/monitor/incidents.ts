// Incident reports: failures/incident_<uuid>.json (PROTOCOL section 7), each
// pointing at the audit record that logged it (audit_seq, audit_hash) and at
// a MessagePack state snapshot, failures/snapshots/<uuid>.msgpack, named with
// its SHA-256, from which `shadowpath replay` reproduces the failing cycle.
import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { writeFileAtomic, ensureDir } from '../store/atomic-file.js';
import { pack } from '../transport/codec.js';
import type { AuditLog } from '../audit/log.js';
import type { CycleCapture } from '../engine/types.js';
import type { EngineConfig } from '../engine/config.js';

export interface IncidentReport {
  incident_id: string;
  timestamp: string;
  type: string;
  severity: 'CRITICAL' | 'HIGH' | 'MEDIUM';
  mode: string;
  details: Record<string, unknown>;
  audit_seq: number;
  audit_hash: string;
  state_snapshot: { file: string; sha256: string; cycle_id: number; agent_id: string } | null;
}

export interface Snapshot {
  format: 'shadowpath-snapshot/1';
  incident_id: string;
  type: string;
  config: EngineConfig;
  capture: CycleCapture;
}

export async function writeIncident(dir: string, audit: AuditLog, now: number, i: {
  type: string; severity: IncidentReport['severity']; mode: string; details: Record<string, unknown>; capture?: CycleCapture; config: EngineConfig;
  /** The id the control state already names (last_failure.incident_id). */
  id?: string;
}): Promise<IncidentReport> {
  const id = i.id ?? randomUUID();
  await ensureDir(join(dir, 'snapshots'));
  let snap: IncidentReport['state_snapshot'] = null;
  if (i.capture) {
    const bytes = pack({ format: 'shadowpath-snapshot/1', incident_id: id, type: i.type, config: i.config, capture: i.capture } satisfies Snapshot);
    const file = `snapshots/${id}.msgpack`;
    await writeFileAtomic(join(dir, file), bytes);
    snap = { file, sha256: createHash('sha256').update(bytes).digest('hex'), cycle_id: i.capture.cycle_id, agent_id: i.capture.agent_id };
  }
  const rec = await audit.append('INCIDENT', 'system', { incident_id: id, type: i.type, severity: i.severity, mode: i.mode, details: i.details, snapshot_sha256: snap?.sha256 ?? null });
  const report: IncidentReport = {
    incident_id: id, timestamp: new Date(now).toISOString(), type: i.type, severity: i.severity, mode: i.mode, details: i.details,
    audit_seq: rec.seq, audit_hash: rec.hash, state_snapshot: snap,
  };
  await writeFileAtomic(join(dir, `incident_${id}.json`), JSON.stringify(report, null, 2) + '\n');
  return report;
}

export function listIncidents(dir: string): IncidentReport[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => /^incident_[0-9a-f-]+\.json$/.test(f))
    .map((f) => { try { return JSON.parse(readFileSync(join(dir, f), 'utf8')) as IncidentReport; } catch { return null; } })
    .filter((r): r is IncidentReport => r !== null)
    .sort((a, b) => a.timestamp.localeCompare(b.timestamp));
}

/** The snapshot file of a report, given the report's own path. */
export function snapshotPath(reportPath: string, r: IncidentReport): string | null {
  return r.state_snapshot ? join(dirname(reportPath), r.state_snapshot.file) : null;
}
