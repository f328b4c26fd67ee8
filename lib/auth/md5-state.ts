/*
 * md5-state — MD5 (RFC 1321) with its chaining state exposed, for Dovecot's {CRAM-MD5}
 * password scheme.
 *
 * Dovecot stores CRAM-MD5 secrets not as the password but as the two HMAC-MD5 (RFC 2104)
 * intermediate states: MD5 after one block of key^opad and after one block of key^ipad.
 * node:crypto cannot export or resume an MD5 state, so this file carries the compression
 * function. It is used only for that scheme and CRAM-MD5 (RFC 2195) responses; MD5 is not
 * used for anything that needs collision resistance here.
 * Talks to: nothing. Security: pure computation on caller data.
 */

/** MD5 chaining variables A, B, C, D. */
export type Md5State = readonly [number, number, number, number];

export const MD5_INITIAL_STATE: Md5State = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];

const SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
const SINE_TABLE = Array.from(
  { length: 64 },
  (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0,
);

function roundInput(i: number, b: number, c: number, d: number): [number, number] {
  if (i < 16) return [(b & c) | (~b & d), i];
  if (i < 32) return [(d & b) | (~d & c), (5 * i + 1) % 16];
  if (i < 48) return [b ^ c ^ d, (3 * i + 5) % 16];
  return [c ^ (b | ~d), (7 * i) % 16];
}

/** Process one 64-byte block starting at `offset`. */
export function md5Compress(state: Md5State, block: Buffer, offset = 0): Md5State {
  let [a, b, c, d] = state;
  for (let i = 0; i < 64; i++) {
    const [f, g] = roundInput(i, b, c, d);
    const shift = SHIFTS[(i >> 4) * 4 + (i % 4)] ?? 0;
    const sum = (a + f + (SINE_TABLE[i] ?? 0) + block.readUInt32LE(offset + g * 4)) >>> 0;
    a = d;
    d = c;
    c = b;
    b = (b + ((sum << shift) | (sum >>> (32 - shift)))) >>> 0;
  }
  return [(state[0] + a) >>> 0, (state[1] + b) >>> 0, (state[2] + c) >>> 0, (state[3] + d) >>> 0];
}

/** The state as 16 bytes, each word little-endian (Dovecot's CDPUT order; also the digest). */
export function md5StateBytes(state: Md5State): Buffer {
  const out = Buffer.alloc(16);
  for (let i = 0; i < 4; i++) out.writeUInt32LE(state[i] ?? 0, i * 4);
  return out;
}

export function md5StateFromBytes(bytes: Buffer): Md5State {
  return [bytes.readUInt32LE(0), bytes.readUInt32LE(4), bytes.readUInt32LE(8), bytes.readUInt32LE(12)];
}

/**
 * Finish an MD5 computation that already consumed `consumed` bytes (a multiple of 64) into
 * `state`, with `data` as the rest of the message. Returns the 16-byte digest.
 */
export function md5Finish(state: Md5State, consumed: number, data: Buffer): Buffer {
  const total = consumed + data.length;
  const padLength = (data.length + 9 + 63) & ~63;
  const tail = Buffer.alloc(padLength);
  data.copy(tail);
  tail[data.length] = 0x80;
  const bits = BigInt(total) * 8n;
  tail.writeBigUInt64LE(bits & 0xffffffffffffffffn, padLength - 8);
  let s = state;
  for (let off = 0; off < padLength; off += 64) s = md5Compress(s, tail, off);
  return md5StateBytes(s);
}
