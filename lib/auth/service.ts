/*
 * service — the auth daemon's request handler (Dovecot's auth process): passdb lookups
 * with password verification (lib/auth/schemes, off the event loop for slow schemes),
 * SASL CRAM-MD5 and APOP checks, userdb lookups for the mail processes, and the failure
 * penalty: a failed login is answered only after a delay that doubles per failure from the
 * same IP. Log lines follow Dovecot's auth lines ("passwd-file(user,ip): unknown user").
 * The only process that reads password data; requests come from postern processes only
 * (private socket), but every field is still checked.
 */
import type { Socket } from "node:net";
import { serveRequests } from "../ipc/index.js";
import { errorText, type Logger } from "../log/index.js";
import { fileDeps } from "./file-deps.js";
import { lookupPassdb, type PassdbEntry, SYSTEM_PASSWD } from "./passdb.js";
import { type AuthPenalty, formatPassdbFailure, sanitizeLogValue } from "./penalty.js";
import type { AuthCredentials, AuthReply, AuthUser, PassdbRequest, UserdbRequest } from "./protocol.js";
import { verifyApop, verifyCramMd5 } from "./sasl.js";
import { verifyPassword } from "./schemes.js";

export interface AuthSettings {
  passwdFile: string;
  systemUsers: boolean;
  maxDelayMs: number;
  timeoutMs: number;
}

export interface AuthService {
  settings: AuthSettings;
  log: Logger;
  penalty: AuthPenalty;
}

function isRequest(m: unknown): m is PassdbRequest | UserdbRequest {
  const r = m as { op?: unknown };
  return typeof m === "object" && m !== null && (r.op === "passdb" || r.op === "userdb");
}

export function serveAuth(socket: Socket, svc: AuthService): Promise<void> {
  return serveRequests(socket, {
    timeoutMs: svc.settings.timeoutMs,
    // smtpd and the login processes keep connections for reuse; close idle ones (Postfix's
    // ipc_idle) so a retiring auth process is not held open by them.
    idleTimeoutMs: 5000,
    isRequest,
    handle: (req) => (req.op === "passdb" ? passdb(req, svc) : userdb(req, svc)),
    warn: (text) => svc.log.warning(text),
  });
}

function identity(e: PassdbEntry): AuthUser {
  return {
    user: e.user,
    ...(e.uid !== undefined ? { uid: e.uid } : {}),
    ...(e.gid !== undefined ? { gid: e.gid } : {}),
    home: e.home,
    extra: e.extra,
  };
}

async function lookup(user: string, svc: AuthService): Promise<PassdbEntry | undefined> {
  return lookupPassdb(user, {
    passwdFile: svc.settings.passwdFile,
    systemUsers: svc.settings.systemUsers,
    onWarning: (m) => svc.log.warning(m),
  });
}

async function credentialsMatch(stored: string, c: AuthCredentials): Promise<boolean> {
  if (stored === "") return false;
  if (c.type === "password") return verifyPassword(stored, c.password);
  if (c.type === "cram-md5") return verifyCramMd5(stored, c.challenge, c.response);
  return verifyApop(stored, c.timestamp, c.digest);
}

export async function passdb(req: PassdbRequest, svc: AuthService): Promise<AuthReply> {
  const user = typeof req.credentials?.user === "string" ? req.credentials.user : "";
  const rip = typeof req.rip === "string" ? req.rip : "unknown";
  let entry: PassdbEntry | undefined;
  let reason: "" | "unknown user" | "Password mismatch";
  try {
    entry = user === "" ? undefined : await lookup(user, svc);
    reason = !entry
      ? "unknown user"
      : (await credentialsMatch(entry.password, req.credentials))
        ? ""
        : "Password mismatch";
  } catch (err) {
    svc.log.error(`passdb lookup for ${sanitizeLogValue(user)}: ${errorText(err)}`);
    return { ok: false, temporary: true, reason: "temporary failure" };
  }
  if (entry && reason === "") {
    svc.penalty.recordSuccess(rip);
    return { ok: true, user: identity(entry) };
  }
  svc.log.info(
    formatPassdbFailure({
      driver: entry?.source === "system" ? "shadow" : "passwd-file",
      user,
      rip,
      reason: reason || "Password mismatch",
    }),
  );
  const delay = Math.min(svc.penalty.recordFailure(rip), svc.settings.maxDelayMs);
  await new Promise((r) => setTimeout(r, delay));
  return { ok: false, temporary: false, reason: "authentication failed" };
}

/** At most this many names per userdb request (smtpd sends up to four forms of an address). */
const USERDB_NAMES_MAX = 8;

async function userdb(req: UserdbRequest, svc: AuthService): Promise<AuthReply> {
  if (typeof req.user !== "string") return { ok: false, temporary: false, reason: "unknown user" };
  const more = Array.isArray(req.alsoTry) ? req.alsoTry.filter((u) => typeof u === "string") : [];
  const names = [req.user, ...more].slice(0, USERDB_NAMES_MAX);
  // Signatures before the reads: a change meanwhile makes the answer look stale, never fresh.
  const deps = fileDeps(userdbFiles(svc.settings));
  let entry: Awaited<ReturnType<typeof lookup>>;
  for (const name of names) {
    try {
      entry = await lookup(name, svc);
    } catch (err) {
      // A passdb that cannot be read must not turn users into unknown ones (RCPT would get 550).
      svc.log.error(`userdb(${sanitizeLogValue(name)}): ${String(err)}`);
      return { ok: false, temporary: true, reason: "userdb lookup failed" };
    }
    if (entry) break;
  }
  const reply: AuthReply = entry
    ? { ok: true, user: identity(entry) }
    : { ok: false, temporary: false, reason: "unknown user" };
  if (deps !== undefined) reply.deps = deps;
  return reply;
}

/** The files a userdb answer is read from (lookupPassdb): the passwd-file, /etc/passwd. */
function userdbFiles(settings: AuthSettings): string[] {
  // An empty user_passdb names no file (its lookups find nobody, whatever happens on disk).
  const files = settings.passwdFile === "" ? [] : [settings.passwdFile];
  if (settings.systemUsers) files.push(SYSTEM_PASSWD);
  return files;
}
