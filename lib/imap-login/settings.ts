/*
 * settings — imap-login's frozen configuration: TLS (Dovecot's ssl = no|yes|required,
 * ssl_cert / ssl_key with or without Dovecot's "<" prefix, falling back to
 * smtpd_tls_cert_file / smtpd_tls_key_file; ssl_min_protocol, default TLSv1.2),
 * imap_tls_wrappermode (set with -o on the imaps master.cf entry, as smtpd_tls_wrappermode
 * on smtps), disable_plaintext_auth, SASL mechanisms and limits.
 * A missing or unreadable certificate turns TLS off with a warning (STARTTLS not offered).
 */
import type { MainCf } from "../config/index.js";
import { P } from "../config/params.js";
import { type LoginCommonSettings, loginCommonSettings } from "../login/settings.js";

export interface ImapLoginSettings extends LoginCommonSettings {
  maxLineLength: number;
  maxBadCommands: number;
  /** imaps: TLS from the first byte. */
  wrapperMode: boolean;
}

export function imapLoginSettings(config: MainCf, warn: (m: string) => void): ImapLoginSettings {
  return {
    ...loginCommonSettings(config, warn),
    maxLineLength: config.get(P.imap_max_line_length),
    maxBadCommands: config.get(P.imap_max_bad_commands),
    wrapperMode: config.get(P.imap_tls_wrappermode),
  };
}
