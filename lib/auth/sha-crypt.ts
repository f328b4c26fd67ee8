/*
 * sha-crypt — SHA-crypt ($5$ SHA-256, $6$ SHA-512; Ulrich Drepper's "Unix crypt using
 * SHA-256 and SHA-512", as glibc, libxcrypt and `openssl passwd -5/-6` compute it): making
 * and verifying {SHA256-CRYPT}/{SHA512-CRYPT} hashes. Settings are parsed as glibc does
 * (rounds clamped to 1000..999999999, salt cut at 16 characters, "rounds=" kept when
 * given). Every POP3/IMAP login pays 5000 rounds by default: SHA-512's rounds run in
 * WebAssembly (sha512-wasm, a quarter of the CPU), SHA-256's as one-shot crypto.hash over
 * a reused buffer (a Hash object per round cost twice the CPU).
 * The "unixcrypt" variant reproduces the unixcrypt package (which made postern's hashes
 * before): for a password of exactly a multiple of the digest size (32/64 bytes for $5$,
 * 64/128 for $6$) it left out one copy of a digest, so its hashes differ from glibc's for
 * those lengths only. Verification accepts both, so no stored hash stops working.
 * Talks to: node:crypto, sha512-wasm. Security: inputs are a stored setting and a candidate password;
 * a malformed setting throws (the caller counts it as no match).
 */
import { hash } from "node:crypto";
import { sha512Hasher } from "./sha512-wasm.js";

const ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ROUNDS_DEFAULT = 5000;

/** The byte order of the final base-64 encoding, three bytes per group (from the spec). */
// biome-ignore format: groups of three as in the spec
const ORDER = {
  sha256: [20, 10, 0, 11, 1, 21, 2, 22, 12, 23, 13, 3, 14, 4, 24, 5, 25, 15, 26, 16, 6, 17, 7, 27, 8, 28, 18, 29, 19, 9, 30, 31],
  sha512: [
    42, 21, 0, 1, 43, 22, 23, 2, 44, 45, 24, 3, 4, 46, 25, 26, 5, 47, 48, 27, 6, 7, 49, 28, 29, 8, 50, 51, 30, 9,
    10, 52, 31, 32, 11, 53, 54, 33, 12, 13, 55, 34, 35, 14, 56, 57, 36, 15, 16, 58, 37, 38, 17, 59, 60, 39, 18,
    19, 61, 40, 41, 20, 62, 63,
  ],
} as const;

interface Setting {
  algorithm: "sha256" | "sha512";
  prefix: "5" | "6";
  rounds: number;
  roundsGiven: boolean;
  salt: string;
}

/** "$6$salt", "$6$rounds=N$salt" (a trailing "$..." after the salt is not part of it). */
function parseSetting(setting: string): Setting {
  const parts = setting.split("$");
  const prefix = parts[1];
  if (prefix !== "5" && prefix !== "6") throw new Error("not a SHA-crypt setting");
  if (parts.length < 2 || parts.length > 4) throw new Error("invalid SHA-crypt setting");
  let rounds = ROUNDS_DEFAULT;
  let roundsGiven = false;
  let salt = "";
  if (parts.length > 2) {
    const r = /^rounds=(\d*)$/.exec(parts[2] as string);
    if (r) {
      rounds = Number(r[1]);
      roundsGiven = true;
      salt = parts[3] ?? "";
    } else salt = parts[2] as string;
  }
  rounds = Math.min(Math.max(rounds, 1000), 999_999_999);
  salt = salt.substring(0, 16);
  if (/[^./0-9A-Za-z]/.test(salt)) throw new Error("invalid SHA-crypt salt");
  return { algorithm: prefix === "5" ? "sha256" : "sha512", prefix, rounds, roundsGiven, salt };
}

export type ShaCryptVariant = "standard" | "unixcrypt";

/*
 * The P and S sequences (steps 16 and 20) and the digest-B run of steps 9-10: whole copies
 * of the digest, then the first (length mod size) bytes. The unixcrypt variant stops the
 * whole copies one early when length is an exact multiple (see the header).
 */
function wholeCopies(digestSize: number, length: number, variant: ShaCryptVariant): number {
  const n = Math.floor(length / digestSize);
  return variant === "unixcrypt" && n > 0 && length % digestSize === 0 ? n - 1 : n;
}

function filled(digest: Buffer, length: number, variant: ShaCryptVariant): Buffer {
  const out = Buffer.alloc(length);
  const copies = wholeCopies(digest.length, length, variant);
  for (let i = 0; i < copies; i++) out.set(digest, i * digest.length);
  const rest = length % digest.length;
  out.set(digest.subarray(0, rest), length - rest);
  return out;
}

function digestRun(digest: Buffer, length: number, variant: ShaCryptVariant): Buffer[] {
  const parts: Buffer[] = Array<Buffer>(wholeCopies(digest.length, length, variant)).fill(digest);
  parts.push(digest.subarray(0, length % digest.length));
  return parts;
}

/** Whether the unixcrypt variant can differ from the standard for this password. */
export function unixcryptDiffers(plain: string, setting: string): boolean {
  const size = setting.startsWith("$5$") ? 32 : 64;
  const bytes = Buffer.byteLength(plain, "utf8");
  return bytes > 0 && bytes % size === 0;
}

function encode64(digest: Uint8Array, order: readonly number[]): string {
  let out = "";
  for (let i = 0; i < order.length; i += 3) {
    const rest = order.length - i;
    const b0 = digest[order[i] as number] as number;
    if (rest === 1) {
      out += ITOA64.charAt(b0 & 63) + ITOA64.charAt(b0 >> 6);
      break;
    }
    const b1 = digest[order[i + 1] as number] as number;
    if (rest === 2) {
      const w = b0 | (b1 << 8);
      out += ITOA64.charAt(w & 63) + ITOA64.charAt((w >> 6) & 63) + ITOA64.charAt(w >> 12);
      break;
    }
    const w = b0 | (b1 << 8) | ((digest[order[i + 2] as number] as number) << 16);
    out +=
      ITOA64.charAt(w & 63) +
      ITOA64.charAt((w >> 6) & 63) +
      ITOA64.charAt((w >> 12) & 63) +
      ITOA64.charAt(w >> 18);
  }
  return out;
}

/** The full crypt string ("$6$[rounds=N$]salt$hash") of `plain` under `setting`. */
export function shaCrypt(plain: string, setting: string, variant: ShaCryptVariant = "standard"): string {
  const conf = parseSetting(setting);
  const alg = conf.algorithm;
  const size = alg === "sha256" ? 32 : 64;
  const key = Buffer.from(plain, "utf8");
  const salt = Buffer.from(conf.salt, "latin1");
  const h = (data: Uint8Array) => hash(alg, data, "buffer");
  // steps 4-8: digest B; steps 1-3, 9-12: digest A
  const b = h(Buffer.concat([key, salt, key]));
  const aParts: Buffer[] = [key, salt, ...digestRun(b, key.length, variant)];
  for (let n = key.length; n > 0; n >>= 1) aParts.push(n & 1 ? b : key);
  const a = h(Buffer.concat(aParts));
  // steps 13-16: P; 17-20: S
  const p = filled(h(Buffer.concat(Array<Buffer>(key.length).fill(key))), key.length, variant);
  const s = filled(h(Buffer.concat(Array<Buffer>(16 + (a[0] as number)).fill(salt))), salt.length, variant);
  // step 21: the rounds, each input laid out in one reused buffer (SHA-512: the
  // WebAssembly hasher's own memory, which it hashes in place)
  const most = 2 * size + s.length + 2 * p.length;
  const wasm = alg === "sha512" ? sha512Hasher() : undefined;
  const buf: Uint8Array = wasm?.input(most) ?? Buffer.allocUnsafe(most);
  let c: Uint8Array = a;
  for (let i = 0; i < conf.rounds; i++) {
    let o = 0;
    const first = i & 1 ? p : c;
    buf.set(first, o);
    o += first.length;
    if (i % 3 !== 0) {
      buf.set(s, o);
      o += s.length;
    }
    if (i % 7 !== 0) {
      buf.set(p, o);
      o += p.length;
    }
    const last = i & 1 ? c : p;
    buf.set(last, o);
    o += last.length;
    c = wasm !== undefined ? wasm.digest(o) : h(buf.subarray(0, o));
  }
  const head =
    conf.roundsGiven || conf.rounds !== ROUNDS_DEFAULT
      ? `$${conf.prefix}$rounds=${conf.rounds}`
      : `$${conf.prefix}`;
  return `${head}$${conf.salt}$${encode64(c, ORDER[alg])}`;
}
