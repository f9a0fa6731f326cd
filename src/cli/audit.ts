// `shadowpath audit verify`: verifies a data directory's audit chain offline
// (no server needed) and names the first bad record.
import { join } from 'node:path';
import { verifyLogFile } from '../audit/log.js';
import { parseArgs } from './args.js';
import { requireDataDir } from './data-dir.js';

export const AUDIT_HELP = `usage: shadowpath audit verify [--data-dir DIR] [--json]

Verifies the hash chain of DIR/audit/audit.log (default ./data), against its
anchored head DIR/audit/audit.log.head (records cut off the end), and names
the first record that does not verify. Exit 0 when the chain is intact, 1
when not (or when DIR does not exist or holds no audit log: E_NO_DATA_DIR).`;

export async function auditCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'verify') {
    console.error(`shadowpath audit: unknown subcommand "${sub ?? ''}" (see shadowpath audit --help)`);
    return 2;
  }
  const o = parseArgs(rest, { 'data-dir': 'string', json: 'boolean' });
  const path = join(requireDataDir(o['data-dir'] as string | undefined), 'audit', 'audit.log');
  const v = await verifyLogFile(path);
  const out = { path, verified: v.ok, length: v.length, head_hash: v.head, ...(v.firstBad ? { first_bad: v.firstBad } : {}) };
  if (o.json) console.log(JSON.stringify(out));
  else if (v.ok) console.log(`audit chain intact: ${v.length} records, head ${v.head}`);
  else console.log(`audit chain BROKEN at record ${v.firstBad!.index + 1} (seq ${v.firstBad!.seq ?? '?'}): ${v.firstBad!.reason}; ${v.length} records read`);
  return v.ok ? 0 : 1;
}
