// `shadowpath operators add ID --role R [--file F]`: adds an operator to an
// operators file (the `serve --operators FILE` one), storing only the hex
// SHA-256 of the secret. The secret is typed at a prompt that does not echo,
// or read from stdin when stdin is not a terminal (a pipe, a secrets
// manager); it never appears on a command line, where `ps` and the shell
// history would keep it.
import { existsSync } from 'node:fs';
import { Writable } from 'node:stream';
import { createInterface } from 'node:readline/promises';
import { SidecarError } from '../errors.js';
import { Operators, OPERATOR_ID, hashSecret, type OperatorSpec, type Role } from '../control/operators.js';
import { writeFileAtomic } from '../store/atomic-file.js';
import { parseArgs } from './args.js';

export const OPERATORS_HELP = `usage: shadowpath operators add ID --role ROLE [--file F] [--replace]
       shadowpath operators ls [--file F]

add: asks for ID's secret (twice, without echo), or reads it from stdin when
stdin is not a terminal (one line; a trailing newline is dropped), and writes
{id, role, secret_sha256} into the operators file F (default ./operators.json,
created when missing), where secret_sha256 is the hex SHA-256 of the secret's
UTF-8 bytes. The secret itself is stored nowhere. ls lists ids and roles.

  --role ROLE         viewer (HEARTBEAT, read-only queries), operator (register, candidate,
                      canary, lockdown) or admin (also promote, rollback, release, reset)
  --file F            the operators file (default operators.json)
  --replace           replace an existing operator of that id (a new secret or role)

The server reads the file at start-up: shadowpath serve --operators F.
example: printf %s "$SECRET" | shadowpath operators add Op-01 --role admin --file operators.json`;

const ROLES: Role[] = ['viewer', 'operator', 'admin'];
/** Shorter secrets are refused: a bearer secret is the whole credential. */
export const MIN_SECRET_LENGTH = 8;

function readFile(path: string): OperatorSpec[] {
  if (!existsSync(path)) return [];
  const ops = Operators.fromFile(path); // validates, E_CONFIG naming the bad entry
  return ops.specs ?? [];
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks).toString('utf8');
}

/** A prompt whose answer is not echoed: readline writes to a sink that lets only the prompt through. */
async function askHidden(question: string): Promise<string> {
  let muted = false;
  const out = new Writable({ write(chunk, _enc, cb) { if (!muted) process.stderr.write(chunk); cb(); } });
  const rl = createInterface({ input: process.stdin, output: out, terminal: true });
  try {
    const p = rl.question(question);
    muted = true;
    const answer = await p;
    process.stderr.write('\n');
    return answer;
  } finally {
    rl.close();
  }
}

async function readSecret(id: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const text = await readAll(process.stdin);
    const lines = text.replace(/\r?\n$/, '');
    if (lines.includes('\n')) throw new SidecarError('E_CONFIG', 'the secret on stdin must be one line');
    return lines;
  }
  const a = await askHidden(`secret for ${id}: `);
  const b = await askHidden('again: ');
  if (a !== b) throw new SidecarError('E_CONFIG', 'the two secrets differ; nothing was written');
  return a;
}

export async function operatorsCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'ls') {
    const o = parseArgs(rest, { file: 'string' });
    const file = (o.file as string) ?? 'operators.json';
    if (!existsSync(file)) throw new SidecarError('E_CONFIG', `no operators file ${file}`);
    const specs = readFile(file);
    console.log(`${specs.length} operator(s) in ${file}`);
    for (const s of specs) console.log(`  ${s.id.padEnd(20)} ${s.role}`);
    return 0;
  }
  if (sub !== 'add') { console.error('shadowpath operators: use add or ls (see shadowpath operators --help)'); return 2; }
  const id = rest[0];
  if (id === undefined || id.startsWith('--')) throw new SidecarError('E_CONFIG', 'operators add needs an operator ID');
  if (!OPERATOR_ID.test(id)) throw new SidecarError('E_CONFIG', 'an operator ID is 1-64 of [A-Za-z0-9._@-], starting with a letter or digit');
  const o = parseArgs(rest.slice(1), { role: 'string', file: 'string', replace: 'boolean' });
  const role = o.role as Role | undefined;
  if (!role || !ROLES.includes(role)) throw new SidecarError('E_CONFIG', '--role must be viewer, operator or admin');
  const file = (o.file as string) ?? 'operators.json';
  const specs = readFile(file);
  const at = specs.findIndex((s) => s.id === id);
  if (at >= 0 && o.replace !== true) throw new SidecarError('E_CONFIG', `${file} already has an operator ${id} (--replace to give it a new secret or role)`);
  const secret = await readSecret(id);
  if (secret.length < MIN_SECRET_LENGTH) throw new SidecarError('E_CONFIG', `the secret must be at least ${MIN_SECRET_LENGTH} characters; nothing was written`);
  const spec: OperatorSpec = { id, role, secret_sha256: hashSecret(secret) };
  if (at >= 0) specs[at] = spec; else specs.push(spec);
  new Operators(specs); // the same validation the server applies at start-up
  await writeFileAtomic(file, JSON.stringify(specs, null, 2) + '\n');
  console.log(`${at >= 0 ? 'replaced' : 'added'} ${id} (${role}) in ${file}; the server reads it at start-up (shadowpath serve --operators ${file})`);
  return 0;
}
