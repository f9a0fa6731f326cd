// `shadowpath cmd TYPE [key=value ...]` and `shadowpath heartbeat`: send a
// command over TCP and print the reply. A two-step command prints its summary
// and asks for confirmation (or takes --yes), then sends the token.
import { createInterface } from 'node:readline/promises';
import { SidecarError } from '../errors.js';
import { parseArgs } from './args.js';
import { CLIENT_OPTIONS, CLIENT_HELP, connect } from './client-args.js';

export const CMD_HELP = `usage: shadowpath cmd TYPE [--operator ID] [--auth SECRET] [--yes] [--json JSON] [key=value ...]

Sends one command (docs/PROTOCOL.md §4) and prints the reply as JSON.
Parameters are key=value pairs (values are JSON when they parse as JSON,
strings otherwise; a dotted key sets a nested field, e.g. metadata.version=V1),
or one --json object. Two-step commands show their summary and ask before
confirming; --yes confirms without asking. Exit 0 on OK, 1 otherwise.

  --operator ID       operator_id (default: $SHADOWPATH_OPERATOR or "cli")
  --auth SECRET       the operator's secret (default: $SHADOWPATH_SECRET)
${CLIENT_HELP}

example: shadowpath cmd REGISTER_MODEL metadata.version=M-MyModel-V1
         shadowpath cmd PROMOTE_CANDIDATE --operator Op-01`;

export function buildCommand(type: string, pairs: string[], json?: string): Record<string, unknown> {
  const cmd: Record<string, unknown> = json ? (JSON.parse(json) as Record<string, unknown>) : {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new SidecarError('E_CONFIG', `parameter "${p}" is not key=value`);
    const key = p.slice(0, eq), raw = p.slice(eq + 1);
    let value: unknown = raw;
    try { value = JSON.parse(raw); } catch { /* a plain string */ }
    const path = key.split('.');
    let at = cmd;
    for (const k of path.slice(0, -1)) at = (at[k] ??= {}) as Record<string, unknown>;
    at[path[path.length - 1]] = value;
  }
  cmd.type = type;
  return cmd;
}

export async function cmdCommand(argv: string[]): Promise<number> {
  const type = argv[0];
  if (!type || type.startsWith('--')) throw new SidecarError('E_CONFIG', 'cmd needs a command TYPE (see shadowpath cmd --help)');
  const flags: string[] = [], pairs: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    if (argv[i].startsWith('--')) { flags.push(argv[i]); if (!['--yes', '--tls'].includes(argv[i])) flags.push(argv[++i]); }
    else pairs.push(argv[i]);
  }
  const o = parseArgs(flags, { ...CLIENT_OPTIONS, operator: 'string', auth: 'string', yes: 'boolean', json: 'string' });
  const cmd = buildCommand(type, pairs, o.json as string | undefined);
  if (type !== 'HEARTBEAT') cmd.operator_id ??= (o.operator as string) ?? process.env.SHADOWPATH_OPERATOR ?? 'cli';
  const secret = (o.auth as string) ?? process.env.SHADOWPATH_SECRET;
  if (secret) cmd.auth = secret;
  const c = await connect(o);
  try {
    let reply = await c.request(cmd);
    if (reply.status === 'REQUIRED_CONFIRMATION') {
      console.error(`${type} needs confirmation: ${String(reply.summary)} (token expires ${String(reply.expires_at)})`);
      let yes = o.yes === true;
      if (!yes) {
        if (!process.stdin.isTTY) throw new SidecarError('E_CONFIG', 'confirmation needed and stdin is not a terminal: pass --yes to confirm');
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        yes = /^y(es)?$/i.test((await rl.question('confirm? [y/N] ')).trim());
        rl.close();
      }
      if (!yes) { console.error('not confirmed; nothing was done'); return 1; }
      reply = await c.request({ ...cmd, confirmation_token: reply.confirmation_token });
    }
    console.log(JSON.stringify(reply, null, 2));
    return reply.status === 'OK' ? 0 : 1;
  } finally {
    c.close();
  }
}

export async function heartbeatCommand(argv: string[]): Promise<number> {
  const o = parseArgs(argv, { ...CLIENT_OPTIONS });
  const c = await connect(o);
  try {
    const r = await c.request({ type: 'HEARTBEAT' });
    console.log(JSON.stringify(r, null, 2));
    return r.status === 'OK' ? 0 : 1;
  } finally {
    c.close();
  }
}

export const HEARTBEAT_HELP = `usage: shadowpath heartbeat [options]

Prints the server's HEARTBEAT (docs/PROTOCOL.md §5) as JSON.
${CLIENT_HELP}`;
