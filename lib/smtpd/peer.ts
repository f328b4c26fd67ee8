/*
 * peer — the client's name as Postfix's smtpd shows it: the reverse (PTR, or /etc/hosts
 * through getnameinfo) name, kept only if it resolves forward to the same address,
 * otherwise "unknown". Bounded by a timeout so a slow resolver delays no greeting for long.
 * Answers are kept for a few seconds per address: a client that opens one connection per
 * message (most MTAs) would otherwise cost two resolver jobs in the thread pool before each
 * greeting. A lookup that failed or timed out is not kept.
 */
import { lookup, lookupService } from "node:dns/promises";

/** How long a verified name (or a definite "unknown") is reused: well below any DNS TTL in practice. */
const CACHE_MS = 10_000;
const CACHE_MAX = 1000;

const cache = new Map<string, { name: string; until: number }>();

function withTimeout<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(fallback), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      () => {
        clearTimeout(t);
        resolve(fallback);
      },
    );
  });
}

/** Strip the IPv4-mapped IPv6 prefix Node reports for IPv4 clients on dual-stack sockets. */
export function plainIp(ip: string): string {
  return ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip;
}

function remember(ip: string, name: string): string {
  if (cache.size >= CACHE_MAX) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  cache.set(ip, { name, until: Date.now() + CACHE_MS });
  return name;
}

export async function verifiedName(ip: string, timeoutMs = 3000): Promise<string> {
  const hit = cache.get(ip);
  if (hit !== undefined) {
    if (hit.until > Date.now()) return hit.name;
    cache.delete(ip);
  }
  const resolve = async (): Promise<string | undefined> => {
    let hostname: string;
    try {
      ({ hostname } = await lookupService(ip, 0));
    } catch (err) {
      // No PTR record is a definite answer; a failing resolver is not.
      return (err as NodeJS.ErrnoException).code === "ENOTFOUND" ? remember(ip, "unknown") : undefined;
    }
    if (!hostname || hostname === ip) return remember(ip, "unknown");
    const addrs = await lookup(hostname, { all: true }).catch(() => undefined);
    if (addrs === undefined) return undefined;
    return remember(ip, addrs.some((a) => plainIp(a.address) === ip) ? hostname : "unknown");
  };
  return (await withTimeout(resolve(), timeoutMs, undefined)) ?? "unknown";
}
