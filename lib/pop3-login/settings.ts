/*
 * settings — pop3-login's frozen configuration: TLS (Dovecot's ssl = no|yes|required,
 * ssl_cert / ssl_key with or without Dovecot's "<" prefix, falling back to
 * smtpd_tls_cert_file / smtpd_tls_key_file; ssl_min_protocol, default TLSv1.2),
 * pop3_tls_wrappermode (set with -o on the pop3s master.cf entry, as smtpd_tls_wrappermode
 * on smtps), disable_plaintext_auth, APOP, SASL mechanisms and limits.
 * A missing or unreadable certificate turns TLS off with a warning (STLS not offered).
 */
import type { MainCf } from "../config/index.js";
import { P } from "../config/params.js";
import { type LoginCommonSettings, loginCommonSettings } from "../login/settings.js";

export interface Pop3LoginSettings extends LoginCommonSettings {
  apop: boolean;
  lineLimit: number;
  maxBadCommands: number;
  /** pop3s: TLS from the first byte. */
  wrapperMode: boolean;
}

export function pop3LoginSettings(config: MainCf, warn: (m: string) => void): Pop3LoginSettings {
  return {
    ...loginCommonSettings(config, warn),
    apop: config.get(P.pop3_enable_apop),
    lineLimit: config.get(P.pop3_command_line_limit),
    maxBadCommands: config.get(P.pop3_max_bad_commands),
    wrapperMode: config.get(P.pop3_tls_wrappermode),
  };
}
