/*
 * client-counts — open sessions per client IP, and the refusal of one too many (Postfix's
 * anvil connection count). Master counts the sessions of a service across its workers; a
 * worker accepting on a lent socket counts its own (lib/server). Both refuse alike: the
 * service's refusal in its protocol, a warning in Postfix's words, the connection closed.
 */
import type { Socket } from "node:net";

/** Per-IP concurrency of a service: the limit, what a refused client is told, who is exempt. */
export interface ClientLimit {
  max: number;
  refusal: (ip: string) => string;
  exempt?: (ip: string) => boolean;
}

/** The client's address as per-IP counts key it (IPv4-mapped IPv6 as plain IPv4). */
export function clientIp(socket: { readonly remoteAddress?: string | undefined }): string {
  const raw = socket.remoteAddress ?? "";
  return raw.startsWith("::ffff:") && raw.includes(".") ? raw.slice(7) : raw;
}

/**
 * Refuse the client if one more session from `ip` (making `n`) is beyond the limit: true
 * when refused (the refusal is sent, the warning logged, the socket closed soon after).
 */
export function refuseOverLimit(
  socket: Socket,
  limit: ClientLimit | undefined,
  ip: string,
  n: number,
  service: string,
  warn: (text: string) => void,
): boolean {
  if (!limit || limit.max <= 0 || n <= limit.max || limit.exempt?.(ip)) return false;
  warn(`Connection concurrency limit exceeded: ${n} from ${ip} for service ${service}`);
  socket.on("error", () => undefined);
  socket.end(limit.refusal(ip));
  setTimeout(() => socket.destroy(), 1000).unref();
  return true;
}

/** Open sessions per IP; a count may carry callbacks owed when it goes down (passed sessions). */
export class ClientCounts {
  private perIp = new Map<string, number>();
  private releasers = new Map<string, (() => void)[]>();

  of(ip: string): number {
    return this.perIp.get(ip) ?? 0;
  }

  /** Count n more sessions of ip; `release` is called when one of them is counted off. */
  add(ip: string, n = 1, release?: () => void): void {
    this.perIp.set(ip, this.of(ip) + n);
    if (release === undefined) return;
    const list = this.releasers.get(ip) ?? [];
    list.push(release);
    this.releasers.set(ip, list);
  }

  remove(ip: string, n = 1): void {
    const left = this.of(ip) - n;
    if (left > 0) this.perIp.set(ip, left);
    else this.perIp.delete(ip);
    const owed = this.releasers.get(ip);
    if (owed === undefined) return;
    for (let i = 0; i < n && owed.length > 0; i++) owed.shift()?.();
    if (owed.length === 0) this.releasers.delete(ip);
  }
}
