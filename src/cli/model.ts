// `shadowpath model export VERSION` and `shadowpath model register FILE`:
// moving a model between sidecars (data directories, hosts) without reading
// the source. The export is EXPORT_MODEL's {metadata, weights}, which is
// exactly what REGISTER_MODEL takes; its metadata carries the input layout,
// so a sidecar with another schema refuses it (E_MODEL_LAYOUT).
import { readFileSync } from 'node:fs';
import { SidecarError } from '../errors.js';
import { parseArgs } from './args.js';
import { CLIENT_OPTIONS, CLIENT_HELP, connect } from './client-args.js';

export const MODEL_HELP = `usage: shadowpath model export VERSION [--revision N] [options] > model.json
       shadowpath model register FILE [--version NEW] [options]

export    prints the model's metadata (with its input layout and seed) and
          weights as one JSON object: the latest revision, or --revision N
register  registers the weights of an exported file (REGISTER_MODEL), under
          its own version or --version NEW; refused with E_MODEL_LAYOUT when
          the file's feature order, scaling or intents differ from the server's

  --operator ID       operator_id (default: $SHADOWPATH_OPERATOR or "cli")
  --auth SECRET       the operator's secret (default: $SHADOWPATH_SECRET)
${CLIENT_HELP}`;

export async function modelCommand(argv: string[]): Promise<number> {
  const [sub, arg, ...rest] = argv;
  if ((sub !== 'export' && sub !== 'register') || !arg || arg.startsWith('--')) throw new SidecarError('E_CONFIG', 'usage: shadowpath model export VERSION | register FILE (see shadowpath model --help)');
  const o = parseArgs(rest, { ...CLIENT_OPTIONS, operator: 'string', auth: 'string', revision: 'number', version: 'string' });
  const auth = (o.auth as string) ?? process.env.SHADOWPATH_SECRET;
  const envelope = { operator_id: (o.operator as string) ?? process.env.SHADOWPATH_OPERATOR ?? 'cli', ...(auth ? { auth } : {}) };
  let req: Record<string, unknown>;
  if (sub === 'export') {
    req = { type: 'EXPORT_MODEL', version: arg, ...(o.revision !== undefined ? { revision: o.revision } : {}), ...envelope };
  } else {
    let file: { metadata?: Record<string, unknown>; weights?: unknown };
    try {
      file = JSON.parse(readFileSync(arg, 'utf8')) as typeof file;
    } catch (e) {
      throw new SidecarError('E_CONFIG', `cannot read the model file ${arg}: ${(e as Error).message}`);
    }
    if (typeof file?.metadata !== 'object' || file.metadata === null || file.weights === undefined) throw new SidecarError('E_CONFIG', `${arg} is not an exported model ({metadata, weights}; see shadowpath model export)`);
    req = { type: 'REGISTER_MODEL', metadata: { ...file.metadata, ...(o.version ? { version: o.version } : {}) }, weights: file.weights, ...envelope };
  }
  const c = await connect(o);
  try {
    const r = await c.request(req);
    if (sub === 'export' && r.status === 'OK') {
      if (typeof r.warning === 'string') console.error(`shadowpath: WARNING: ${r.warning}`);
      console.log(JSON.stringify({ metadata: r.metadata, weights: r.weights }));
      return 0;
    }
    console[r.status === 'OK' ? 'log' : 'error'](JSON.stringify(r, null, 2));
    return r.status === 'OK' ? 0 : 1;
  } finally {
    c.close();
  }
}
