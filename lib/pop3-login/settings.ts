/*
 * settings — pop3-login's frozen configuration: TLS (Dovecot's ssl = no|yes|required,
 * ssl_cert / ssl_key with or without Dovecot's "<" prefix, falling back to
 * smtpd_tls_cert_file / smtpd_tls_key_file; ssl_min_protocol, default TLSv1.2),
 * pop3_tls_wrappermode (set with -o on the pop3s master.cf entry, as smtpd_tls_wrappermode
 * on smtps), disable_plaintext_auth, APOP, SASL mechanisms and limits.
 * A missing or unreadable certificate turns TLS off with a warning (STLS not offered).
 */
import type { SecureContext } from "node:tls";
import type { MainCf } from "../config/index.js";
import { P } from "../config/params.js";
import { loadServerContext } from "../smtpd/tls.js";

export interface Pop3LoginSettings {
  hostname: string;
  queueDir: string;
  apop: boolean;
  saslMechanisms: string[];
  lineLimit: number;
  maxBadCommands: number;
  tls: SecureContext | undefined;
  /** pop3s: TLS from the first byte. */
  wrapperMode: boolean;
  /** ssl = required: no login before STLS, even from loopback. */
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

export function pop3LoginSettings(config: MainCf, warn: (m: string) => void): Pop3LoginSettings {
  const ssl = config.get(P.ssl).trim().toLowerCase();
  const cert = filePath(config.get(P.ssl_cert));
  const key = filePath(config.get(P.ssl_key));
  const minProto = config.get(P.ssl_min_protocol).trim() || "TLSv1.2";
  return {
    hostname: config.get(P.myhostname),
    queueDir: config.get(P.queue_directory),
    apop: config.get(P.pop3_enable_apop),
    saslMechanisms: config.get(P.auth_mechanisms).map((m) => m.toUpperCase()),
    lineLimit: config.get(P.pop3_command_line_limit),
    maxBadCommands: config.get(P.pop3_max_bad_commands),
    tls: ssl === "no" ? undefined : loadServerContext(cert, key, `>=${minProto}`, warn),
    wrapperMode: config.get(P.pop3_tls_wrappermode),
    tlsRequired: ssl === "required",
    disablePlaintextAuth: config.get(P.disable_plaintext_auth),
    loopbackSecured: config.get(P.login_loopback_secured),
    loginTimeoutMs: config.get(P.login_timeout) * 1000,
    ipcTimeoutMs: config.get(P.ipc_timeout) * 1000,
  };
}
