import { describe, it, expect } from 'vitest';
import { encodeModelFile, decodeModelFile } from '../../../src/store/model-file.js';
import { initBody, type ModelParams } from '../../../src/kernel/model.js';
import { ARCH_MLP, ACT_TANH } from '../../../src/kernel/layout.js';
import { pack } from '../../../src/transport/codec.js';

const shape = { arch: ARCH_MLP, d: 12, k: 7, h: 8, activation: ACT_TANH } as const;
const params: ModelParams = { shape, seed: 42, updates: 3, body: initBody(shape, 'random', 1) };
const md = { version: 'M-X-V1', architecture: 'mlp' as const, created_at: '2026-11-26T00:00:00Z' };

describe('model file', () => {
  it('round-trips metadata, shape, seed and weights bit for bit', () => {
    const { bytes, sha256 } = encodeModelFile(md, params);
    const f = decodeModelFile(bytes);
    expect(f.sha256).toBe(sha256);
    expect(f.metadata).toEqual(md);
    expect(f.params.shape).toEqual(shape);
    expect(f.params.seed).toBe(42);
    expect([...f.params.body]).toEqual([...params.body]);
  });

  it('names a flipped weight byte as a SHA-256 mismatch (E_MODEL_FILE)', () => {
    const { bytes } = encodeModelFile(md, params);
    const at = bytes.indexOf(Buffer.from(new Uint8Array(params.body.buffer, 16 * 4, 8))); // inside the weights
    expect(at).toBeGreaterThan(0);
    const bad = Buffer.from(bytes); bad[at + 1] ^= 0x10;
    expect(() => decodeModelFile(bad)).toThrowError(expect.objectContaining({ code: 'E_MODEL_FILE' }));
  });

  it('rejects truncated, foreign and malformed files with stable codes', () => {
    const { bytes } = encodeModelFile(md, params);
    expect(() => decodeModelFile(bytes.subarray(0, bytes.length - 9))).toThrowError(expect.objectContaining({ code: 'E_MODEL_FILE' }));
    expect(() => decodeModelFile(Buffer.from('{"json": true}'))).toThrowError(expect.objectContaining({ code: 'E_MODEL_FILE' }));
    expect(() => decodeModelFile(pack({ format: 'shadowpath-model/1', metadata: md, shape: { ...shape, k: 99 }, seed: 1, updates: 0, body: new Uint8Array(8), sha256: '' })))
      .toThrowError(expect.objectContaining({ code: 'E_MODEL_SHAPE' }));
    expect(() => decodeModelFile(pack({ format: 'shadowpath-model/1', metadata: md, shape, seed: 1, updates: 0, body: new Uint8Array(8), sha256: '' })))
      .toThrowError(expect.objectContaining({ code: 'E_MODEL_WEIGHTS' }));
    const nan = params.body.slice(); nan[100] = NaN;
    const withNan = pack({ format: 'shadowpath-model/1', metadata: md, shape, seed: 1, updates: 0, body: new Uint8Array(nan.buffer), sha256: 'x' });
    expect(() => decodeModelFile(withNan)).toThrowError(expect.objectContaining({ code: 'E_MODEL_WEIGHTS' }));
  });
});
