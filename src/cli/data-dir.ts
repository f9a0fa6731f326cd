// The offline commands (audit verify, quarantine) read a data directory that
// a server wrote. A missing or mistyped one must not read as "empty and
// fine" ("audit chain intact: 0 records", "0 quarantined"): it is an error
// with its own code. Every data directory a server has opened holds
// audit/audit.log (its STARTUP record), so that is the mark of one.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SidecarError } from '../errors.js';

/** The data directory of `--data-dir` (default ./data), or E_NO_DATA_DIR. */
export function requireDataDir(dir: string | undefined): string {
  const d = dir ?? 'data';
  const hint = dir === undefined ? ' (the default; give --data-dir DIR, the directory `shadowpath serve --data-dir` used)' : '';
  if (!existsSync(d) || !statSync(d).isDirectory()) throw new SidecarError('E_NO_DATA_DIR', `no data directory ${resolve(d)}${hint}`);
  if (!existsSync(join(d, 'audit', 'audit.log'))) {
    throw new SidecarError('E_NO_DATA_DIR', `${resolve(d)} is not a shadowpath data directory: it has no audit/audit.log${hint}`);
  }
  return d;
}
