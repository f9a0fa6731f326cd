// `shadowpath cmd TYPE [key=value ...]` and `shadowpath heartbeat`: send a
// command over TCP (or HTTP with --http-port) and print the reply. A two-step
// command prints its summary and asks for confirmation (or takes --yes), then
// sends the token; --no-confirm and --token split the two steps between two
// operators (the two-person rule).
import { createInterface } from 'node:readline/promises';
import { SidecarError } from '../errors.js';
import { parseArgs } from './args.js';
import { CLIENT_OPTIONS, CLIENT_HELP, connect } from './client-args.js';

export const CMD_HELP = `usage: shadowpath cmd TYPE [--operator ID] [--auth SECRET] [--yes | --no-confirm | --token T] [--json JSON] [key=value ...]

Sends one command (docs/PROTOCOL.md §4) and prints the reply as JSON.
Parameters are key=value pairs (values are JSON when they parse as JSON,
strings otherwise; a dotted key sets a nested field, e.g. metadata.version=V1),
or one --json object. Exit 0 on OK, 1 otherwise.

Two-step commands (PROMOTE_CANDIDATE, ROLLBACK_MODEL, UNRELEASE_LOCKDOWN,
RESET_FAILURE_STATUS, a canary ratio over the cap) show their summary and ask
before confirming; --yes confirms without asking. Under the two-person rule
(control.two_person_rule) another operator must confirm: the CLI then prints
the token and the exact command for them instead of confirming as you.

  --operator ID       operator_id (default: $SHADOWPATH_OPERATOR or "cli")
  --auth SECRET       the operator's secret (default: $SHADOWPATH_SECRET)
  --yes               confirm a two-step command without asking
  --no-confirm        only ask: print the confirmation token and the command that confirms it
                      (for a second operator, or for later; a token expires after 120 s); exit 0
  --token T           confirm with a token from an earlier --no-confirm (same TYPE and parameters)
${CLIENT_HELP}

examples:
  shadowpath cmd REGISTER_MODEL metadata.version=M-MyModel-V1
  shadowpath cmd PROMOTE_CANDIDATE --operator Op-01 --yes
  shadowpath cmd UNRELEASE_LOCKDOWN --operator Op-01 --no-confirm      # prints the token
  shadowpath cmd UNRELEASE_LOCKDOWN --operator Op-02 --token 5c0f….Qx  # the second operator confirms`;

/** Quotes an argument for a POSIX shell when it needs it. */
export function shellQuote(a: string): string {
  return /^[A-Za-z0-9._=:/@%+,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

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
    if (argv[i].startsWith('--')) { flags.push(argv[i]); if (!['--yes', '--no-confirm', '--tls'].includes(argv[i])) flags.push(argv[++i]); }
    else pairs.push(argv[i]);
  }
  const o = parseArgs(flags, { ...CLIENT_OPTIONS, operator: 'string', auth: 'string', yes: 'boolean', 'no-confirm': 'boolean', token: 'string', json: 'string' });
  if ([o.yes, o['no-confirm'], o.token !== undefined].filter(Boolean).length > 1) throw new SidecarError('E_CONFIG', 'give one of --yes, --no-confirm and --token');
  const cmd = buildCommand(type, pairs, o.json as string | undefined);
  if (type !== 'HEARTBEAT') cmd.operator_id ??= (o.operator as string) ?? process.env.SHADOWPATH_OPERATOR ?? 'cli';
  const secret = (o.auth as string) ?? process.env.SHADOWPATH_SECRET;
  if (secret) cmd.auth = secret;
  const c = await connect(o);
  try {
    if (o.token !== undefined) cmd.confirmation_token = o.token;
    let reply = await c.request(cmd);
    if (reply.status === 'REQUIRED_CONFIRMATION') {
      console.error(`${type} needs confirmation: ${String(reply.summary)} (token expires ${String(reply.expires_at)})`);
      const twoPerson = reply.two_person_rule !== undefined;
      if (o['no-confirm'] === true || twoPerson) {
        // Step one only: the token and the exact command that confirms it.
        // Under the two-person rule confirming as ourselves would only burn
        // the token (E_TOKEN_SAME_OPERATOR), so the CLI hands it over instead.
        console.log(JSON.stringify(reply, null, 2));
        const again = ['shadowpath', 'cmd', type, ...pairs, ...(o.json ? ['--json', o.json as string] : []), '--token', String(reply.confirmation_token),
          '--operator', twoPerson ? 'SECOND_OPERATOR' : String(cmd.operator_id), ...c.flags].map(shellQuote).join(' ');
        console.error(twoPerson
          ? `two-person rule: another operator than ${String(cmd.operator_id)} confirms it, before ${String(reply.expires_at)}, with (SECOND_OPERATOR = their id${secret ? ', and their own --auth or $SHADOWPATH_SECRET' : ''}):`
          : `to confirm it, before ${String(reply.expires_at)}:`);
        console.error(`  ${again}`);
        return o['no-confirm'] === true ? 0 : 1; // without --no-confirm the command asked for has not happened yet
      }
      let yes = o.yes === true;
      if (!yes) {
        if (!process.stdin.isTTY) throw new SidecarError('E_CONFIG', 'confirmation needed and stdin is not a terminal: pass --yes to confirm (or --no-confirm to print the token)');
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
