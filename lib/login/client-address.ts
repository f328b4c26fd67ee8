/*
 * client-address — how login processes (pop3-login, imap-login) read a client's address:
 * IPv4-mapped IPv6 shown as plain IPv4 (Dovecot's rip=/lip= log fields), and loopback as
 * Dovecot's net_ip_is_loopback, which decides whether a connection counts as secured for
 * disable_plaintext_auth (login_loopback_secured).
 * Talks to: nothing. Security: only loopback is trusted this way, never a network.
 */

/** Loopback as Dovecot's net_ip_is_loopback: 127.0.0.0/8 and ::1 (also IPv4-mapped). */
export function isLoopback(ip: string): boolean {
  const v4 = ip.startsWith("::ffff:") ? ip.slice(7) : ip;
  return v4.startsWith("127.") || ip === "::1";
}

/** The address for log lines: "::ffff:1.2.3.4" as "1.2.3.4", "unknown" when not known. */
export function plainIp(ip: string | undefined): string {
  const v = ip ?? "unknown";
  return v.startsWith("::ffff:") ? v.slice(7) : v;
}
