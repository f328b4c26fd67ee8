/*
 * penalty — brute-force slowdown as Dovecot's auth_penalty, and the failure log lines
 * that fail2ban's stock filters read.
 *
 * Each failed login from an IP (IPv6: its /64) raises that IP's failure count; the answer
 * to a failure is withheld for 2 s, 4 s, 8 s, ... capped at 15 s (Dovecot's
 * AUTH_PENALTY_INIT_SECS / AUTH_PENALTY_MAX_SECS). A success resets the IP; entries expire
 * an hour after their last failure, and the table is bounded (oldest entries evicted) so a
 * flood of source addresses cannot grow memory without limit.
 * Log formatters (pure) produce the message text; the logger adds "host tag[pid]: ":
 *   - fail2ban filter.d/dovecot.conf matches the login-process and passdb lines when the
 *     syslog tag is "dovecot"/"auth" (or with `filter = dovecot[_daemon="postern/\S+"]`);
 *   - filter.d/postfix.conf (mode auth/aggressive) matches the SASL line logged at
 *     warning level by smtpd.
 * Talks to: nothing; timers are the caller's. Security: user names in log lines are
 * sanitised (control characters, '<' '>' ',' replaced) and truncated; passwords never appear.
 */

export interface PenaltyOptions {
  initialMs?: number;
  maxMs?: number;
  /** Forget an IP this long after its last failure. */
  expireMs?: number;
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  failures: number;
  lastFailure: number;
}

/** The delay for the n-th consecutive failure (n ≥ 1): initial · 2^(n−1), at most max. */
export function penaltyDelayMs(failures: number, initialMs = 2000, maxMs = 15000): number {
  if (failures <= 0) return 0;
  return Math.min(maxMs, initialMs * 2 ** Math.min(failures - 1, 30));
}

/** The key an address is counted under: IPv4 as is, IPv6 by its /64 (one host's usual share). */
export function penaltyKey(ip: string): string {
  const v4mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (v4mapped?.[1] !== undefined) return v4mapped[1];
  if (!ip.includes(":")) return ip;
  const [head = "", tail = ""] = ip.toLowerCase().split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === "" ? [] : tail.split(":");
  const missing = ip.includes("::") ? 8 - headGroups.length - tailGroups.length : 0;
  const groups = [...headGroups, ...Array<string>(Math.max(0, missing)).fill("0"), ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

export class AuthPenalty {
  private readonly entries = new Map<string, Entry>();
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly expireMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(opts: PenaltyOptions = {}) {
    this.initialMs = opts.initialMs ?? 2000;
    this.maxMs = opts.maxMs ?? 15000;
    this.expireMs = opts.expireMs ?? 3_600_000;
    this.maxEntries = opts.maxEntries ?? 100_000;
    this.now = opts.now ?? Date.now;
  }

  /** Failures counted for this IP now (0 when unknown or expired). */
  failures(ip: string): number {
    const key = penaltyKey(ip);
    const e = this.entries.get(key);
    if (e === undefined) return 0;
    if (this.now() - e.lastFailure >= this.expireMs) {
      this.entries.delete(key);
      return 0;
    }
    return e.failures;
  }

  /** Count a failure; returns how long to wait before answering it. */
  recordFailure(ip: string): number {
    const key = penaltyKey(ip);
    const failures = this.failures(ip) + 1;
    this.entries.delete(key);
    this.entries.set(key, { failures, lastFailure: this.now() });
    this.evict();
    return penaltyDelayMs(failures, this.initialMs, this.maxMs);
  }

  recordSuccess(ip: string): void {
    this.entries.delete(penaltyKey(ip));
  }

  get size(): number {
    return this.entries.size;
  }

  /** The unexpired entries, for the next auth process (an idle auth process retires). */
  save(): string {
    const now = this.now();
    const live = [...this.entries].filter(([, e]) => now - e.lastFailure < this.expireMs);
    return JSON.stringify(live);
  }

  /** Take over what save() wrote; anything malformed is ignored (a fresh start is safe). */
  restore(text: string): void {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      return;
    }
    if (!Array.isArray(data)) return;
    for (const item of data.slice(-this.maxEntries)) {
      if (!Array.isArray(item) || typeof item[0] !== "string") continue;
      const e = item[1] as Partial<Entry> | null;
      if (typeof e?.failures !== "number" || typeof e.lastFailure !== "number") continue;
      if (this.now() - e.lastFailure >= this.expireMs) continue;
      this.entries.set(item[0], {
        failures: Math.max(0, Math.floor(e.failures)),
        lastFailure: e.lastFailure,
      });
    }
  }

  /** Map order is insertion order and every failure re-inserts: the first keys are the oldest. */
  private evict(): void {
    for (const key of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) return;
      this.entries.delete(key);
    }
  }
}

/** Dovecot's str_sanitize spirit: printable, no field delimiters, bounded. */
export function sanitizeLogValue(value: string, max = 100): string {
  const clean = value.replace(/[\p{Cc}<>,\s]/gu, "?");
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}

export interface LoginFailureLog {
  /** "Disconnected" when the client left, "Aborted login" when the server closed. */
  ending: "Disconnected" | "Aborted login";
  attempts: number;
  secs: number;
  user?: string;
  method?: string;
  rip: string;
  lip: string;
  tls?: boolean;
  session: string;
}

/**
 * pop3-login / imap-login line:
 * "Disconnected (auth failed, 1 attempts in 2 secs): user=<u>, method=PLAIN, rip=1.2.3.4, lip=127.0.0.1, session=<id>"
 */
export function formatLoginFailure(f: LoginFailureLog): string {
  const fields: string[] = [];
  if (f.user !== undefined) fields.push(`user=<${sanitizeLogValue(f.user)}>`);
  if (f.method !== undefined) fields.push(`method=${sanitizeLogValue(f.method, 20)}`);
  fields.push(`rip=${f.rip}`, `lip=${f.lip}`);
  if (f.tls === true) fields.push("TLS");
  fields.push(`session=<${sanitizeLogValue(f.session, 40)}>`);
  return `${f.ending} (auth failed, ${f.attempts} attempts in ${f.secs} secs): ${fields.join(", ")}`;
}

/** auth process line: "passwd-file(user,1.2.3.4): unknown user" (or "Password mismatch"). */
export function formatPassdbFailure(f: {
  driver: string;
  user: string;
  rip: string;
  reason: "unknown user" | "Password mismatch" | "invalid credentials";
}): string {
  return `${f.driver}(${sanitizeLogValue(f.user)},${f.rip}): ${f.reason}`;
}

/**
 * smtpd line, to be logged at warning level (the logger adds "warning: "):
 * "unknown[1.2.3.4]: SASL PLAIN authentication failed: authentication failure"
 */
export function formatSmtpSaslFailure(f: {
  clientName: string;
  clientIp: string;
  mechanism: string;
  reason?: string;
}): string {
  const reason = f.reason ?? "authentication failure";
  return `${f.clientName}[${f.clientIp}]: SASL ${sanitizeLogValue(f.mechanism.toUpperCase(), 20)} authentication failed: ${reason}`;
}
