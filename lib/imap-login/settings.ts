/*
 * settings — imap-login's frozen configuration: TLS (Dovecot's ssl = no|yes|required,
 * ssl_cert / ssl_key with or without Dovecot's "<" prefix, falling back to
 * smtpd_tls_cert_file / smtpd_tls_key_file; ssl_min_protocol, default TLSv1.2),
 * imap_tls_wrappermode (set with -o on the imaps master.cf entry, as smtpd_tls_wrappermode
 * on smtps), disable_plaintext_auth, SASL mechanisms and limits.
 * A missing or unreadable certificate turns TLS off with a warning (STARTTLS not offered).
 */
import type { SecureContext } from "node:tls";
import type { MainCf } from "../config/index.js";
import { P } from "../config/params.js";
import { loadServerContext } from "../smtpd/tls.js";

export interface ImapLoginSettings {
  hostname: string;
  queueDir: string;
  saslMechanisms: string[];
  maxLineLength: number;
  maxBadCommands: number;
  tls: SecureContext | undefined;
  /** imaps: TLS from the first byte. */
  wrapperMode: boolean;
  /** ssl = required: no login before STARTTLS, even from loopback. */
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

export function imapLoginSettings(config: MainCf, warn: (m: string) => void): ImapLoginSettings {
  const ssl = config.get(P.ssl).trim().toLowerCase();
  const cert = filePath(config.get(P.ssl_cert));
  const key = filePath(config.get(P.ssl_key));
  const minProto = config.get(P.ssl_min_protocol).trim() || "TLSv1.2";
  return {
    hostname: config.get(P.myhostname),
    queueDir: config.get(P.queue_directory),
    saslMechanisms: config.get(P.auth_mechanisms).map((m) => m.toUpperCase()),
    maxLineLength: config.get(P.imap_max_line_length),
    maxBadCommands: config.get(P.imap_max_bad_commands),
    tls: ssl === "no" ? undefined : loadServerContext(cert, key, `>=${minProto}`, warn),
    wrapperMode: config.get(P.imap_tls_wrappermode),
    tlsRequired: ssl === "required",
    disablePlaintextAuth: config.get(P.disable_plaintext_auth),
    loopbackSecured: config.get(P.login_loopback_secured),
    loginTimeoutMs: config.get(P.login_timeout) * 1000,
    ipcTimeoutMs: config.get(P.ipc_timeout) * 1000,
  };
}
