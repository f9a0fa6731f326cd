// SIMD helpers shared by the forward and update paths. Every length passed
// here is a multiple of 4 (rows are padded, see layout.ts) and every pointer is
// 16-byte aligned, so there is no scalar tail loop.
//
// The horizontal sum is ((l0 + l1) + l2) + l3 on purpose: src/kernel/reference.ts
// reproduces exactly this order, which makes the two implementations agree to
// the bit on sums (f32 add and mul round the same in both).

@inline
export function hsum(acc: v128): f32 {
  return ((f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + f32x4.extract_lane(acc, 2)) + f32x4.extract_lane(acc, 3);
}

// Dot product of two padded rows of n4 floats.
@inline
export function dot(a: usize, b: usize, n4: i32): f32 {
  let acc = f32x4.splat(0);
  for (let i = 0; i < n4; i += 4) {
    const off = <usize>(i << 2);
    acc = f32x4.add(acc, f32x4.mul(v128.load(a + off), v128.load(b + off)));
  }
  return hsum(acc);
}

// out[i] = x[i] * inv[i]: the input normalised by the model's per-feature
// running scale (a feature never seen has inv = 0 and contributes nothing).
@inline
export function scaleInto(out: usize, x: usize, inv: usize, n4: i32): void {
  for (let i = 0; i < n4; i += 4) {
    const off = <usize>(i << 2);
    v128.store(out + off, f32x4.mul(v128.load(x + off), v128.load(inv + off)));
  }
}

// 1 when every one of n4 floats is finite, else 0. inf*0 and NaN*0 are NaN and
// a NaN survives any sum, so the whole scan is branch-free.
export function allFinite(p: usize, n4: i32): bool {
  let acc = f32x4.splat(0);
  const zero = f32x4.splat(0);
  for (let i = 0; i < n4; i += 4) {
    acc = f32x4.add(acc, f32x4.mul(v128.load(p + (<usize>i << 2)), zero));
  }
  const s = hsum(acc);
  return s == s;
}

@inline
export function isFinite32(x: f32): bool {
  return x - x == 0;
}
