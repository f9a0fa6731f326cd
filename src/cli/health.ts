// `shadowpath health`: the runbook's daily checklist against a running
// server; exit 1 on any FAIL.
import { healthChecks, formatHealth } from '../monitor/health.js';
import { parseArgs } from './args.js';
import { CLIENT_OPTIONS, CLIENT_HELP, connect } from './client-args.js';

export const HEALTH_HELP = `usage: shadowpath health [--expect-model VERSION] [--json] [options]

The daily health checklist: survival rate > 0.9, violation rate < 0.01, the
active model (matches --expect-model when given), the quarantine, latency
p99 < 50 ms; one line each with PASS, WARN or FAIL and the figure.
Exit 1 when any check FAILs.
${CLIENT_HELP}`;

export async function healthCommand(argv: string[]): Promise<number> {
  const o = parseArgs(argv, { ...CLIENT_OPTIONS, 'expect-model': 'string', json: 'boolean' });
  const c = await connect(o);
  try {
    const hb = await c.request({ type: 'HEARTBEAT' });
    const r = healthChecks(hb, o['expect-model'] as string | undefined);
    console.log(o.json ? JSON.stringify(r) : formatHealth(r));
    return r.ok ? 0 : 1;
  } finally {
    c.close();
  }
}
