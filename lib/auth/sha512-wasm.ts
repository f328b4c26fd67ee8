/*
 * sha512-wasm — SHA-512 as a small WebAssembly function, for SHA512-CRYPT's 5000 rounds.
 * Each round hashes about a hundred bytes; through node:crypto that is one call of ~1.9 us,
 * nearly all of it the call itself (argument checks, an EVP context), so a login spent
 * ~9 ms of CPU in auth against ~2 ms for Dovecot's C. WebAssembly has native 64-bit
 * arithmetic, so the compression function runs at close to C speed with no per-call cost.
 * The module is assembled here from the FIPS 180-4 definitions (the constants are derived,
 * not typed in) and instantiated once per thread, on first use. Without WebAssembly
 * (node --jitless) sha512Hasher() returns undefined and callers keep node:crypto.
 * Talks to: nothing. Security: works on the caller's bytes only; tests compare it with
 * node:crypto across block boundaries.
 */

/** The little of the WebAssembly API used here (Node's types leave it to the DOM library). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
};
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** The module's memory: the digest, the 80 round constants, the message schedule, the message. */
const DIGEST_AT = 0;
const K_AT = 64;
const W_AT = K_AT + 80 * 8;
const MESSAGE_AT = 1408; // past W, on a 128-byte boundary
const PAGE = 65536;

/** The first `count` primes. */
function primes(count: number): bigint[] {
  const out: bigint[] = [];
  for (let n = 2; out.length < count; n++) if (out.every((p) => n % Number(p) !== 0)) out.push(BigInt(n));
  return out;
}

/** floor(x^(1/k)) for a non-negative bigint, by Newton's method. */
function integerRoot(x: bigint, k: bigint): bigint {
  if (x < 2n) return x;
  // Start just above the root (Newton's steps then only come down): the float estimate,
  // when x fits a double, is within 2^-50 of it.
  const estimate = Number(x) ** (1 / Number(k));
  let r = Number.isFinite(estimate)
    ? BigInt(Math.ceil(estimate * (1 + 2 ** -40))) + 1n
    : 1n << (BigInt(x.toString(2).length) / k + 1n);
  for (;;) {
    const next = ((k - 1n) * r + x / r ** (k - 1n)) / k;
    if (next >= r) return r;
    r = next;
  }
}

/** The first 64 bits of the fractional part of p^(1/k) (FIPS 180-4 sections 4.2.3, 5.3.5). */
function fraction64(p: bigint, k: bigint): bigint {
  return integerRoot(p << (64n * k), k) & 0xffff_ffff_ffff_ffffn;
}

/** The body of one function, as WebAssembly instructions. */
class Code {
  readonly bytes: number[] = [];

  op(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }
  get(local: number): this {
    return this.op(0x20, ...uleb(local));
  }
  set(local: number): this {
    return this.op(0x21, ...uleb(local));
  }
  tee(local: number): this {
    return this.op(0x22, ...uleb(local));
  }
  i32(v: number): this {
    return this.op(0x41, ...sleb(BigInt(v)));
  }
  i64(v: bigint): this {
    return this.op(0x42, ...sleb(BigInt.asIntN(64, v)));
  }
  load64(offset: number): this {
    return this.op(0x29, 3, ...uleb(offset));
  }
  store64(offset: number): this {
    return this.op(0x37, 3, ...uleb(offset));
  }
  add(): this {
    return this.op(0x7c);
  }
  and(): this {
    return this.op(0x83);
  }
  or(): this {
    return this.op(0x84);
  }
  xor(): this {
    return this.op(0x85);
  }
  shl(n: number): this {
    return this.i64(BigInt(n)).op(0x86);
  }
  shr(n: number): this {
    return this.i64(BigInt(n)).op(0x88);
  }
  rotl(n: number): this {
    return this.i64(BigInt(n)).op(0x89);
  }
  rotr(n: number): this {
    return this.i64(BigInt(n)).op(0x8a);
  }
  /** x rotr r1 ^ x rotr r2 ^ (x rotr|shr r3): the four sigma functions. */
  sigma(x: number, r1: number, r2: number, r3: number, shift: boolean): this {
    this.get(x).rotr(r1).get(x).rotr(r2).xor().get(x);
    return (shift ? this.shr(r3) : this.rotr(r3)).xor();
  }
  /** The value on the stack with its bytes reversed (no byte-swap instruction exists). */
  swapBytes(tmp: number): this {
    const m8 = 0x00ff_00ff_00ff_00ffn;
    const m16 = 0x0000_ffff_0000_ffffn;
    this.set(tmp).get(tmp).shr(8).i64(m8).and().get(tmp).i64(m8).and().shl(8).or();
    this.set(tmp).get(tmp).shr(16).i64(m16).and().get(tmp).i64(m16).and().shl(16).or();
    return this.rotl(32);
  }
}

function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    const byte = v & 0x7f;
    v >>>= 7;
    out.push(v === 0 ? byte : byte | 0x80);
  } while (v !== 0);
  return out;
}

function sleb(value: bigint): number[] {
  const out: number[] = [];
  let v = value;
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    const done = (v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

/**
 * hash(ptr, blocks): SHA-512 of `blocks` padded 128-byte blocks at ptr; the digest goes to
 * DIGEST_AT in big-endian order. Loops rather than unrolled rounds: V8 first runs a function
 * through its baseline compiler, where a big unrolled body ran 50 times slower for the
 * first few thousand calls (a whole login's worth).
 */
function hashFunction(iv: readonly bigint[]): number[] {
  const [PTR, BLOCKS, T] = [0, 1, 2]; // T: the round's byte offset into K and W
  const STATE = 3; // 8 locals: H0..H7
  const [A, B, C, D, E, F, G, H] = [11, 12, 13, 14, 15, 16, 17, 18];
  const [T1, T2, TMP] = [19, 20, 21];
  const c = new Code();
  for (const [i, v] of iv.entries()) c.i64(v).set(STATE + i);
  c.op(0x02, 0x40, 0x03, 0x40); // block, loop (one iteration per block)
  c.get(BLOCKS).op(0x45, 0x0d, 1); // i32.eqz, br_if to the block's end
  // W[0..15]: the block's words, big-endian
  for (let t = 0; t < 16; t++)
    c.i32(0)
      .get(PTR)
      .load64(8 * t)
      .swapBytes(TMP)
      .store64(W_AT + 8 * t);
  // W[16..79] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16]
  c.i32(128).set(T).op(0x03, 0x40);
  c.get(T);
  c.get(T)
    .load64(W_AT - 16)
    .set(TMP)
    .sigma(TMP, 19, 61, 6, true);
  c.get(T)
    .load64(W_AT - 56)
    .add();
  c.get(T)
    .load64(W_AT - 120)
    .set(TMP)
    .sigma(TMP, 1, 8, 7, true)
    .add();
  c.get(T)
    .load64(W_AT - 128)
    .add()
    .store64(W_AT);
  c.get(T).i32(8).op(0x6a).tee(T).i32(640).op(0x49, 0x0d, 0, 0x0b); // T += 8; loop while < 640
  for (let i = 0; i < 8; i++) c.get(STATE + i).set(A + i);
  // 80 rounds: T1 = h + S1(e) + Ch(e, f, g) + K[t] + W[t], T2 = S0(a) + Maj(a, b, c)
  c.i32(0).set(T).op(0x03, 0x40);
  c.get(H).sigma(E, 14, 18, 41, false).add();
  c.get(G).get(E).get(F).get(G).xor().and().xor().add(); // Ch = g ^ (e & (f ^ g))
  c.get(T).load64(K_AT).add().get(T).load64(W_AT).add().set(T1);
  c.sigma(A, 28, 34, 39, false);
  c.get(A).get(B).and().get(C).get(A).get(B).or().and().or().add().set(T2); // Maj = (a & b) | (c & (a | b))
  c.get(G).set(H).get(F).set(G).get(E).set(F).get(D).get(T1).add().set(E);
  c.get(C).set(D).get(B).set(C).get(A).set(B).get(T1).get(T2).add().set(A);
  c.get(T).i32(8).op(0x6a).tee(T).i32(640).op(0x49, 0x0d, 0, 0x0b);
  for (let i = 0; i < 8; i++)
    c.get(STATE + i)
      .get(A + i)
      .add()
      .set(STATE + i);
  c.get(PTR).i32(128).op(0x6a).set(PTR); // i32.add
  c.get(BLOCKS).i32(1).op(0x6b).set(BLOCKS); // i32.sub
  c.op(0x0c, 0, 0x0b, 0x0b); // br to the loop, end loop, end block
  for (let i = 0; i < 8; i++)
    c.i32(DIGEST_AT)
      .get(STATE + i)
      .swapBytes(TMP)
      .store64(8 * i);
  c.op(0x0b);
  const locals = [2, 1, 0x7f, ...uleb(TMP - STATE + 1), 0x7e]; // T: i32; the rest: i64
  const body = [...locals, ...c.bytes];
  return [...uleb(body.length), ...body];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function moduleBytes(iv: readonly bigint[]): Uint8Array {
  const name = (s: string) => [s.length, ...Buffer.from(s, "latin1")];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, 0x60, 2, 0x7f, 0x7f, 0]), // type: (i32, i32) -> ()
    ...section(3, [1, 0]), // function 0 has type 0
    ...section(5, [1, 0x00, 1]), // memory: 1 page, growable
    ...section(7, [2, ...name("memory"), 0x02, 0, ...name("hash"), 0x00, 0]),
    ...section(10, [1, ...hashFunction(iv)]),
  ]);
}

/** SHA-512 over bytes the caller writes into the module's memory (no copy in or out). */
export interface Sha512Hasher {
  /** Room for a message of `length` bytes: write it there, then call digest(length). */
  input(length: number): Uint8Array;
  /** The digest of the first `length` input bytes; valid until the next input() or digest(). */
  digest(length: number): Uint8Array;
}

let hasher: Sha512Hasher | null | undefined;

/** This thread's hasher, or undefined where WebAssembly is not available. */
export function sha512Hasher(): Sha512Hasher | undefined {
  if (hasher === undefined) hasher = instantiate();
  return hasher ?? undefined;
}

function instantiate(): Sha512Hasher | null {
  let memory: WasmMemory;
  let hash: (ptr: number, blocks: number) => void;
  const ps = primes(80);
  try {
    const instance = new WebAssembly.Instance(
      new WebAssembly.Module(moduleBytes(ps.slice(0, 8).map((p) => fraction64(p, 2n)))),
    );
    memory = instance.exports.memory as WasmMemory;
    hash = instance.exports.hash as (ptr: number, blocks: number) => void;
  } catch {
    return null;
  }
  new BigUint64Array(memory.buffer, K_AT, 80).set(ps.map((p) => fraction64(p, 3n)));
  let bytes = new Uint8Array(memory.buffer);
  const blocksFor = (length: number) => Math.floor((length + 16) / 128) + 1;
  return {
    input(length) {
      const need = MESSAGE_AT + blocksFor(length) * 128;
      if (need > bytes.length) {
        memory.grow(Math.ceil((need - bytes.length) / PAGE));
        bytes = new Uint8Array(memory.buffer);
      }
      return bytes.subarray(MESSAGE_AT, MESSAGE_AT + length);
    },
    digest(length) {
      // Padding (FIPS 180-4 5.1.2): 0x80, zeros, the length in bits as 128-bit big-endian.
      const blocks = blocksFor(length);
      const end = MESSAGE_AT + blocks * 128;
      bytes[MESSAGE_AT + length] = 0x80;
      bytes.fill(0, MESSAGE_AT + length + 1, end - 8);
      const bits = length * 8;
      const high = Math.floor(bits / 2 ** 32);
      for (let i = 0; i < 4; i++) {
        bytes[end - 8 + i] = (high >>> (24 - 8 * i)) & 0xff;
        bytes[end - 4 + i] = (bits >>> (24 - 8 * i)) & 0xff;
      }
      hash(MESSAGE_AT, blocks);
      return bytes.subarray(DIGEST_AT, DIGEST_AT + 64);
    },
  };
}
