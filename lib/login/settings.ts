/*
 * settings — what pop3-login and imap-login configure alike, from Dovecot's parameter
 * names: TLS (ssl = no|yes|required, ssl_cert / ssl_key with or without Dovecot's "<"
 * prefix, falling back to smtpd_tls_cert_file / smtpd_tls_key_file; ssl_min_protocol,
 * default TLSv1.2), disable_plaintext_auth, login_loopback_secured, SASL mechanisms and
 * timeouts. A missing or unreadable certificate turns TLS off with a warning.
 */
import type { SecureContext } from "node:tls";
import type { MainCf } from "../config/index.js";
import { P } from "../config/params.js";
import { loadServerContext } from "../smtpd/tls.js";

export interface LoginCommonSettings {
  hostname: string;
  queueDir: string;
  saslMechanisms: string[];
  tls: SecureContext | undefined;
  /** ssl = required: no login before STARTTLS/STLS, even from loopback. */
  tlsRequired: boolean;
  disablePlaintextAuth: boolean;
  /** Dovecot treats loopback clients as secured; login_loopback_secured = no turns that off. */
  loopbackSecured: boolean;
  loginTimeoutMs: number;
  ipcTimeoutMs: number;
}

/** Dovecot writes "ssl_cert = </path": the < (read from file) is accepted and dropped. */
function filePath(value: string): string {
  return value.trim().replace(/^</, "");
}

export function loginCommonSettings(config: MainCf, warn: (m: string) => void): LoginCommonSettings {
  const ssl = config.get(P.ssl).trim().toLowerCase();
  const cert = filePath(config.get(P.ssl_cert));
  const key = filePath(config.get(P.ssl_key));
  const minProto = config.get(P.ssl_min_protocol).trim() || "TLSv1.2";
  return {
    hostname: config.get(P.myhostname),
    queueDir: config.get(P.queue_directory),
    saslMechanisms: config.get(P.auth_mechanisms).map((m) => m.toUpperCase()),
    tls: ssl === "no" ? undefined : loadServerContext(cert, key, `>=${minProto}`, warn),
    tlsRequired: ssl === "required",
    disablePlaintextAuth: config.get(P.disable_plaintext_auth),
    loopbackSecured: config.get(P.login_loopback_secured),
    loginTimeoutMs: config.get(P.login_timeout) * 1000,
    ipcTimeoutMs: config.get(P.ipc_timeout) * 1000,
  };
}
