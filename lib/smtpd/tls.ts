/*
 * tls — smtpd's server-side TLS: the secure context from smtpd_tls_cert_file /
 * smtpd_tls_key_file (read once per worker, so `postern reload` picks up a renewed
 * certificate), the minimum protocol from smtpd_tls_protocols (Postfix's ">=TLSv1.2"
 * syntax), and the upgrade of an accepted socket (STARTTLS, or at once for smtps).
 * A missing or unreadable certificate disables TLS with a warning, as Postfix does.
 */
import { readFileSync } from "node:fs";
import type { Socket } from "node:net";
import { createSecureContext, type SecureContext, TLSSocket } from "node:tls";

export type TlsLevel = "none" | "may" | "encrypt";

export function tlsLevel(text: string): TlsLevel {
  return text === "may" || text === "encrypt" ? text : "none";
}

const VERSIONS = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"] as const;
type TlsVersion = (typeof VERSIONS)[number];

/** ">=TLSv1.2" or "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1" → the lowest version allowed. */
export function minimumVersion(spec: string): TlsVersion {
  const ge = spec.match(/>=\s*(TLSv1(?:\.[0-3])?)/);
  if (ge?.[1] && (VERSIONS as readonly string[]).includes(ge[1])) return ge[1] as TlsVersion;
  const excluded = new Set(
    spec
      .split(/[\s,:]+/)
      .filter((t) => t.startsWith("!"))
      .map((t) => t.slice(1)),
  );
  return VERSIONS.find((v) => !excluded.has(v)) ?? "TLSv1.2";
}

export function loadServerContext(
  certFile: string,
  keyFile: string,
  protocols: string,
  warn: (m: string) => void,
): SecureContext | undefined {
  if (!certFile) return undefined;
  try {
    return createSecureContext({
      cert: readFileSync(certFile),
      key: readFileSync(keyFile || certFile),
      minVersion: minimumVersion(protocols),
    });
  } catch (err) {
    warn(
      `cannot load TLS certificate ${certFile} / key ${keyFile}: ${err instanceof Error ? err.message : String(err)}; disabling TLS support`,
    );
    return undefined;
  }
}

/** Start TLS as the server on an accepted socket; resolves once the handshake is done. */
export function upgradeToTls(socket: Socket, context: SecureContext, timeoutMs: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tls = new TLSSocket(socket, { isServer: true, secureContext: context });
    const timer = setTimeout(() => {
      tls.destroy();
      reject(new Error("TLS handshake timeout"));
    }, timeoutMs);
    tls.once("secure", () => {
      clearTimeout(timer);
      tls.removeAllListeners("error");
      resolve(tls);
    });
    tls.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Postfix's description: "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)". */
export function describeTls(tls: TLSSocket): string {
  const c = tls.getCipher();
  const bits = c.standardName?.includes("AES_128") || c.name.includes("AES128") ? 128 : 256;
  return `${tls.getProtocol() ?? c.version} with cipher ${c.standardName ?? c.name} (${bits}/${bits} bits)`;
}
