/*
 * scheme-core — Dovecot password schemes computed in the calling thread: parsing
 * "{SCHEME}data", verifying a plaintext against it, and making new hashes.
 *
 * Schemes (Dovecot names): PLAIN/CLEAR/CLEARTEXT, PLAIN-MD5, CRAM-MD5 (HMAC-MD5 context,
 * RFC 2104/2195), and the crypt(3) family SHA512-CRYPT ($6$), SHA256-CRYPT ($5$),
 * BLF-CRYPT ($2y$/$2b$/$2a$), ARGON2ID/ARGON2I ($argon2id$ PHC strings) and CRYPT, which
 * accepts any of those crypt strings. A stored value without "{SCHEME}" is CRYPT, as with
 * Dovecot's default_pass_scheme for passwd-file. DES and MD5 crypt are not supported:
 * they verify as false.
 * The crypt family is slow by design (tens to hundreds of ms, synchronous JS or WASM):
 * callers outside a worker should use schemes.ts, which runs them on a worker pool.
 * Talks to: nothing (sha-crypt.ts and hash-wasm in-process). Security: every comparison of
 * a secret-derived value is constant time; passwords are never logged or thrown.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { argon2i, argon2id, bcrypt } from "hash-wasm";
import { MD5_INITIAL_STATE, md5Compress, md5StateBytes } from "./md5-state.js";
import { shaCrypt, unixcryptDiffers } from "./sha-crypt.js";

export interface StoredPassword {
  /** Upper-case scheme name; "CRYPT" when the value had no {SCHEME} prefix. */
  scheme: string;
  /** The part after "{SCHEME}". */
  data: string;
}

/** Schemes hashPassword can produce (the names `postern pw -s` accepts). */
export const HASH_SCHEMES = [
  "PLAIN",
  "CLEAR",
  "PLAIN-MD5",
  "CRAM-MD5",
  "SHA256-CRYPT",
  "SHA512-CRYPT",
  "BLF-CRYPT",
  "ARGON2ID",
] as const;
export type HashScheme = (typeof HASH_SCHEMES)[number];

const PLAINTEXT_SCHEMES = new Set(["PLAIN", "CLEAR", "CLEARTEXT"]);
const CRYPT_SCHEMES = new Set(["CRYPT", "SHA512-CRYPT", "SHA256-CRYPT", "BLF-CRYPT", "ARGON2ID", "ARGON2I"]);

export function parseStoredPassword(stored: string): StoredPassword {
  const m = /^\{([A-Za-z0-9._-]+)\}/.exec(stored);
  if (m === null || m[1] === undefined) return { scheme: "CRYPT", data: stored };
  return { scheme: m[1].toUpperCase(), data: stored.slice(m[0].length) };
}

export function isKnownScheme(scheme: string): boolean {
  return (
    PLAINTEXT_SCHEMES.has(scheme) ||
    CRYPT_SCHEMES.has(scheme) ||
    scheme === "PLAIN-MD5" ||
    scheme === "CRAM-MD5"
  );
}

/** True for the schemes that take milliseconds or more (run them off the main thread). */
export function isSlowScheme(scheme: string): boolean {
  return CRYPT_SCHEMES.has(scheme);
}

/** The plaintext password when the stored scheme keeps it (APOP and CRAM-MD5 need it). */
export function plaintextOf(stored: string): string | undefined {
  const p = parseStoredPassword(stored);
  return PLAINTEXT_SCHEMES.has(p.scheme) ? p.data : undefined;
}

/** Equality of two secrets in time independent of where they differ (and of their lengths). */
export function constantTimeEqual(a: Buffer | string, b: Buffer | string): boolean {
  const da = createHash("sha256").update(a).digest();
  const db = createHash("sha256").update(b).digest();
  return timingSafeEqual(da, db) && Buffer.byteLength(a) === Buffer.byteLength(b);
}

/** Dovecot's {CRAM-MD5} data: MD5 state after key^opad then after key^ipad, 64 hex digits. */
export function cramMd5Context(password: string): string {
  let key = Buffer.from(password, "utf8");
  if (key.length > 64) key = createHash("md5").update(key).digest();
  const inner = Buffer.alloc(64, 0x36);
  const outer = Buffer.alloc(64, 0x5c);
  for (let i = 0; i < key.length; i++) {
    inner[i] = (inner[i] ?? 0) ^ (key[i] ?? 0);
    outer[i] = (outer[i] ?? 0) ^ (key[i] ?? 0);
  }
  const o = md5StateBytes(md5Compress(MD5_INITIAL_STATE, outer));
  const i = md5StateBytes(md5Compress(MD5_INITIAL_STATE, inner));
  return Buffer.concat([o, i]).toString("hex");
}

const BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** bcrypt's own base64 (no padding, its alphabet), for the 22-character salt. */
function decodeBcryptBase64(text: string, bytes: number): Buffer | undefined {
  const out = Buffer.alloc(bytes);
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (const ch of text) {
    const v = BCRYPT_ALPHABET.indexOf(ch);
    if (v < 0) return undefined;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8 && n < bytes) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return n === bytes ? out : undefined;
}

/** crypt(3) truncates bcrypt keys to 72 bytes; hash-wasm refuses longer ones instead. */
function bcryptKey(plain: string): Buffer {
  return Buffer.from(plain, "utf8").subarray(0, 72);
}

async function verifyBcrypt(hash: string, plain: string): Promise<boolean> {
  const m = /^\$2[aby]\$(\d\d)\$([./A-Za-z0-9]{22})([./A-Za-z0-9]{31})$/.exec(hash);
  if (m === null || m[1] === undefined || m[2] === undefined || m[3] === undefined) return false;
  const cost = Number(m[1]);
  const salt = decodeBcryptBase64(m[2], 16);
  if (salt === undefined || cost < 4 || cost > 31) return false;
  const computed = await bcrypt({
    password: bcryptKey(plain),
    salt,
    costFactor: cost,
    outputType: "encoded",
  });
  return constantTimeEqual(computed.slice(-31), m[3]);
}

interface Argon2Params {
  variant: "argon2id" | "argon2i";
  memory: number;
  iterations: number;
  parallelism: number;
  salt: Buffer;
  digest: Buffer;
}

function parseArgon2(hash: string): Argon2Params | undefined {
  const m = /^\$(argon2id|argon2i)\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(
    hash,
  );
  if (m === null) return undefined;
  const [, variant, memory, iterations, parallelism, salt, digest] = m;
  if (variant !== "argon2id" && variant !== "argon2i") return undefined;
  const params: Argon2Params = {
    variant,
    memory: Number(memory),
    iterations: Number(iterations),
    parallelism: Number(parallelism),
    salt: Buffer.from(salt ?? "", "base64"),
    digest: Buffer.from(digest ?? "", "base64"),
  };
  const sane = params.memory <= 4 * 1024 * 1024 && params.iterations <= 64 && params.parallelism <= 64;
  return sane && params.salt.length >= 8 && params.digest.length >= 4 ? params : undefined;
}

async function verifyArgon2(hash: string, plain: string): Promise<boolean> {
  const p = parseArgon2(hash);
  if (p === undefined) return false;
  const fn = p.variant === "argon2id" ? argon2id : argon2i;
  const computed = await fn({
    password: plain,
    salt: p.salt,
    memorySize: p.memory,
    iterations: p.iterations,
    parallelism: p.parallelism,
    hashLength: p.digest.length,
    outputType: "binary",
  });
  return constantTimeEqual(Buffer.from(computed), p.digest);
}

/**
 * SHA-crypt: recompute with the stored salt and rounds, compare in constant time. A hash
 * the unixcrypt package made for a password whose length it got wrong (see sha-crypt.ts)
 * still verifies.
 */
function verifyShaCrypt(hash: string, plain: string): boolean {
  const settingEnd = hash.lastIndexOf("$");
  if (settingEnd <= 3) return false;
  const setting = hash.slice(0, settingEnd);
  try {
    if (constantTimeEqual(shaCrypt(plain, setting), hash)) return true;
    return unixcryptDiffers(plain, setting) && constantTimeEqual(shaCrypt(plain, setting, "unixcrypt"), hash);
  } catch {
    return false;
  }
}

/** crypt(3) strings, dispatched by their prefix as libxcrypt does. */
export async function verifyCrypt(hash: string, plain: string): Promise<boolean> {
  if (hash.startsWith("$5$") || hash.startsWith("$6$")) return verifyShaCrypt(hash, plain);
  if (/^\$2[aby]\$/.test(hash)) return verifyBcrypt(hash, plain);
  if (hash.startsWith("$argon2i")) return verifyArgon2(hash, plain);
  return false;
}

/**
 * Verify in this thread. Unknown schemes and malformed data verify as false. An empty
 * password never matches a crypt-family hash (hash-wasm cannot compute one, and Dovecot
 * refuses empty passwords before the scheme is consulted).
 */
export async function verifyInThread(stored: string, plain: string): Promise<boolean> {
  const { scheme, data } = parseStoredPassword(stored);
  if (CRYPT_SCHEMES.has(scheme)) {
    if (plain === "") return false;
    return verifyCrypt(data, plain).catch(() => false);
  }
  if (PLAINTEXT_SCHEMES.has(scheme)) return constantTimeEqual(data, plain);
  if (scheme === "PLAIN-MD5")
    return constantTimeEqual(data.toLowerCase(), createHash("md5").update(plain, "utf8").digest("hex"));
  if (scheme === "CRAM-MD5") return constantTimeEqual(data.toLowerCase(), cramMd5Context(plain));
  return false;
}

/** A crypt salt: `length` characters of crypt's alphabet ./0-9A-Za-z from the CSPRNG. */
export function cryptSalt(length: number): string {
  const bytes = randomBytes(length);
  return Array.from(bytes, (b) => BCRYPT_ALPHABET[b & 63]).join("");
}

export interface HashOptions {
  /** SHA-crypt rounds (default 5000, printed only when not the default), bcrypt cost (default 5 as doveadm). */
  rounds?: number;
}

function shaCryptSetting(prefix: "$5$" | "$6$", rounds: number | undefined): string {
  const r = rounds === undefined || rounds === 5000 ? "" : `rounds=${rounds}$`;
  return `${prefix}${r}${cryptSalt(16)}`;
}

/** Hash in this thread; returns "{SCHEME}data" exactly as `doveadm pw -s SCHEME` prints. */
export async function hashInThread(
  plain: string,
  scheme: HashScheme,
  opts: HashOptions = {},
): Promise<string> {
  const data = await schemeData(plain, scheme, opts);
  return `{${scheme}}${data}`;
}

async function schemeData(plain: string, scheme: HashScheme, opts: HashOptions): Promise<string> {
  switch (scheme) {
    case "PLAIN":
    case "CLEAR":
      return plain;
    case "PLAIN-MD5":
      return createHash("md5").update(plain, "utf8").digest("hex");
    case "CRAM-MD5":
      return cramMd5Context(plain);
    case "SHA256-CRYPT":
      return shaCrypt(plain, shaCryptSetting("$5$", opts.rounds));
    case "SHA512-CRYPT":
      return shaCrypt(plain, shaCryptSetting("$6$", opts.rounds));
    case "BLF-CRYPT": {
      const cost = opts.rounds ?? 5;
      const h = await bcrypt({
        password: bcryptKey(plain),
        salt: randomBytes(16),
        costFactor: cost,
        outputType: "encoded",
      });
      return `$2y$${h.slice(4)}`;
    }
    case "ARGON2ID":
      return argon2id({
        password: plain,
        salt: randomBytes(16),
        memorySize: 65536,
        iterations: opts.rounds ?? 3,
        parallelism: 1,
        hashLength: 32,
        outputType: "encoded",
      });
  }
}
