/*
 * peer — the client's name as Postfix's smtpd shows it: the reverse (PTR, or /etc/hosts
 * through getnameinfo) name, kept only if it resolves forward to the same address,
 * otherwise "unknown". Bounded by a timeout so a slow resolver delays no greeting for long.
 */
import { lookup, lookupService } from "node:dns/promises";

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

export async function verifiedName(ip: string, timeoutMs = 3000): Promise<string> {
  const resolve = async (): Promise<string> => {
    const { hostname } = await lookupService(ip, 0);
    if (!hostname || hostname === ip) return "unknown";
    const addrs = await lookup(hostname, { all: true });
    return addrs.some((a) => plainIp(a.address) === ip) ? hostname : "unknown";
  };
  return withTimeout(resolve(), timeoutMs, "unknown");
}
