// The on-disk form of a model version: one MessagePack object holding the
// metadata, the shape, the RNG seed and the weights, with the SHA-256 of the
// weights (see weightsSha256). Decoding checks everything and fails with a
// stable code: E_MODEL_FILE for a file that is not a model or whose hash does
// not match, E_MODEL_SHAPE / E_MODEL_WEIGHTS for contents that are not valid.
import { SidecarError } from '../errors.js';
import { pack, unpack } from '../transport/codec.js';
import { validateBody, validateShape, weightsSha256, type ModelParams } from '../kernel/model.js';
import type { ModelShape } from '../kernel/layout.js';

export const MODEL_FORMAT = 'shadowpath-model/1';

export interface ModelMetadata {
  version: string;
  architecture: 'linear' | 'mlp';
  created_at: string;
  [extra: string]: unknown;
}

export interface ModelFile {
  metadata: ModelMetadata;
  params: ModelParams;
  sha256: string;
}

export function encodeModelFile(metadata: ModelMetadata, params: ModelParams): { bytes: Buffer; sha256: string } {
  const sha256 = weightsSha256(params);
  const body = new Uint8Array(params.body.buffer, params.body.byteOffset, params.body.byteLength);
  const bytes = pack({ format: MODEL_FORMAT, metadata, shape: params.shape, seed: params.seed >>> 0, updates: params.updates >>> 0, body, sha256 });
  return { bytes, sha256 };
}

function fail(msg: string): never {
  throw new SidecarError('E_MODEL_FILE', msg);
}

export function decodeModelFile(bytes: Uint8Array): ModelFile {
  let raw: unknown;
  try {
    raw = unpack(bytes);
  } catch (e) {
    fail(`not a MessagePack model file: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null) fail('not a model file');
  const o = raw as Record<string, unknown>;
  if (o.format !== MODEL_FORMAT) fail(`unknown model format ${JSON.stringify(o.format)}`);
  const md = o.metadata as ModelMetadata;
  if (typeof md !== 'object' || md === null || typeof md.version !== 'string') fail('model metadata without a version');
  const shape = o.shape as ModelShape;
  if (typeof shape !== 'object' || shape === null) fail('model file without a shape');
  validateShape(shape);
  if (!(o.body instanceof Uint8Array) || o.body.byteLength % 4 !== 0) fail('model weights are not a byte string of f32');
  if (typeof o.seed !== 'number' || typeof o.updates !== 'number' || typeof o.sha256 !== 'string') fail('model file fields of the wrong type');
  // Copy into an aligned buffer: the decoded bytes may sit at any offset.
  const body = new Float32Array(o.body.byteLength / 4);
  new Uint8Array(body.buffer).set(o.body);
  const params: ModelParams = { shape: { arch: shape.arch, d: shape.d, k: shape.k, h: shape.h, activation: shape.activation }, seed: o.seed >>> 0, updates: o.updates >>> 0, body };
  validateBody(params.shape, body);
  const sha256 = weightsSha256(params);
  if (sha256 !== o.sha256) fail(`weights SHA-256 mismatch: file says ${String(o.sha256).slice(0, 16)}…, contents hash to ${sha256.slice(0, 16)}…`);
  return { metadata: md, params, sha256 };
}
