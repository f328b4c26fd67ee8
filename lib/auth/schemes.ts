/*
 * schemes — the public password-scheme API: verifyPassword and hashPassword for Dovecot's
 * "{SCHEME}data" values, running the slow schemes (crypt family, Argon2) on a shared
 * worker pool so the caller's event loop stays responsive; fast ones (PLAIN, PLAIN-MD5,
 * CRAM-MD5) run inline. Scheme details are in scheme-core.ts.
 * Talks to: verify-pool (worker threads). Security: constant-time comparisons; unknown
 * schemes and malformed hashes verify as false (callers log "unknown scheme" via
 * isKnownScheme), never throw with secret material.
 */
import {
  type HashOptions,
  type HashScheme,
  hashInThread,
  isSlowScheme,
  parseStoredPassword,
  verifyInThread,
} from "./scheme-core.js";
import { VerifyPool } from "./verify-pool.js";

export {
  constantTimeEqual,
  cramMd5Context,
  HASH_SCHEMES,
  type HashOptions,
  type HashScheme,
  isKnownScheme,
  parseStoredPassword,
  plaintextOf,
  type StoredPassword,
} from "./scheme-core.js";

let sharedPool: VerifyPool | undefined;

function pool(): VerifyPool {
  sharedPool ??= new VerifyPool();
  return sharedPool;
}

/** Does `plain` match the stored "{SCHEME}data" (or bare crypt string)? */
export async function verifyPassword(stored: string, plain: string): Promise<boolean> {
  if (!isSlowScheme(parseStoredPassword(stored).scheme)) return verifyInThread(stored, plain);
  return pool().verify(stored, plain);
}

/** "{SCHEME}data" for a new password, as `doveadm pw -s SCHEME` prints it. */
export async function hashPassword(
  plain: string,
  scheme: HashScheme,
  opts: HashOptions = {},
): Promise<string> {
  if (!isSlowScheme(scheme)) return hashInThread(plain, scheme, opts);
  return pool().hash(plain, scheme, opts);
}

/** Stop the shared pool's workers (daemon shutdown, tests). A later call starts new ones. */
export async function closeVerifyPool(): Promise<void> {
  const p = sharedPool;
  sharedPool = undefined;
  await p?.close();
}
