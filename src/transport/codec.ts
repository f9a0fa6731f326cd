// msgpackr settings, in one place. Records (structures) are off: every frame
// must decode on its own, without shared state between peers or files.
// Typed arrays round-trip as such; `undefined` is not encoded.
import { Packr, RESERVE_START_SPACE } from 'msgpackr';

export const packr = new Packr({ useRecords: false, moreTypes: true, mapsAsObjects: true, int64AsType: 'number' });

export function pack(v: unknown): Buffer {
  return packr.pack(v);
}

export function unpack(b: Uint8Array): unknown {
  return packr.unpack(b);
}

/**
 * One binary frame (docs/PROTOCOL.md §1): the 4-byte big-endian length and
 * the MessagePack object, packed in one buffer (the length's room reserved
 * by msgpackr), so a reply costs no second allocation nor a concatenation.
 */
export function packFrame(v: unknown): Buffer {
  const b = packr.pack(v, RESERVE_START_SPACE | 4);
  const n = b.length - 4;
  b[0] = n >>> 24; b[1] = (n >>> 16) & 0xff; b[2] = (n >>> 8) & 0xff; b[3] = n & 0xff;
  return b;
}
