import { describe, it, expect } from 'vitest';
import { bodyFromPlain, plainFromBody, initBody, validateBody, validateShape, bodyWords } from '../../../src/kernel/model.js';
import { ARCH_LINEAR, ARCH_MLP, ACT_RELU, pad4, w1Off, HEADER_WORDS, type ModelShape } from '../../../src/kernel/layout.js';

const lin: ModelShape = { arch: ARCH_LINEAR, d: 5, k: 3, h: 0, activation: ACT_RELU };
const mlp: ModelShape = { arch: ARCH_MLP, d: 5, k: 3, h: 6, activation: ACT_RELU };
const code = (c: string) => expect.objectContaining({ code: c });

describe('model parameters', () => {
  it('round-trips plain weights through the padded body', () => {
    const w = { w1: [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [0, 0, 0, 0, 1]], b1: [1, 2, 3], scales: [1, 2, 3, 4, 5] };
    const p = plainFromBody(lin, bodyFromPlain(lin, w));
    expect(p.w1).toEqual(w.w1);
    expect(p.b1).toEqual(w.b1);
    expect(p.scales).toEqual(w.scales);
    const m = plainFromBody(mlp, initBody(mlp, 'random', 3));
    expect(plainFromBody(mlp, bodyFromPlain(mlp, m))).toEqual(m);
  });

  it('rejects bad shapes with E_MODEL_SHAPE', () => {
    for (const s of [{ ...lin, arch: 3 }, { ...lin, d: 0 }, { ...lin, k: 1 }, { ...lin, k: 33 }, { ...mlp, h: 0 }, { ...lin, h: 4 }, { ...lin, d: 1.5 }, { ...lin, activation: 7 }]) {
      expect(() => validateShape(s as ModelShape), JSON.stringify(s)).toThrowError(code('E_MODEL_SHAPE'));
    }
  });

  it('rejects wrong lengths, non-finite values and dirty padding with E_MODEL_WEIGHTS', () => {
    expect(() => bodyFromPlain(lin, { w1: [[1, 2, 3, 4, 5]], b1: [0, 0, 0] })).toThrowError(code('E_MODEL_WEIGHTS'));
    expect(() => bodyFromPlain(lin, { w1: [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [1, 2, 3, 4, NaN]], b1: [0, 0, 0] })).toThrowError(code('E_MODEL_WEIGHTS'));
    expect(() => bodyFromPlain(lin, { w1: [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [1, 2, 3, 4, '5' as unknown as number]], b1: [0, 0, 0] })).toThrowError(code('E_MODEL_WEIGHTS'));
    expect(() => bodyFromPlain(lin, { w1: [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [1, 2, 3, 4, 5]], b1: [0, 0, 0], w2: [] })).toThrowError(code('E_MODEL_WEIGHTS'));
    expect(() => validateBody(lin, new Float32Array(bodyWords(lin) + 1))).toThrowError(code('E_MODEL_WEIGHTS'));
    const dirty = initBody(lin, 'zeros', 1);
    dirty[w1Off(5) - HEADER_WORDS + pad4(5) - 1] = 1; // a padding lane of row 0
    expect(() => validateBody(lin, dirty)).toThrowError(code('E_MODEL_WEIGHTS'));
    const inf = initBody(mlp, 'random', 1); inf[inf.length - 1] = Infinity;
    expect(() => validateBody(mlp, inf)).toThrowError(code('E_MODEL_WEIGHTS'));
  });
});
