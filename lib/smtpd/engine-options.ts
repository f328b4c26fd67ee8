/*
 * engine-options — the SMTP engine's options from main.cf, shared by smtpd and by
 * `sendmail -bs` (which runs the same engine on standard input and output).
 */
import type { MainCf } from "../config/index.js";
import { P } from "../config/params.js";
import type { SmtpEngineOptions } from "../smtp/server-engine.js";

export function smtpEngineOptions(config: MainCf): SmtpEngineOptions {
  const forbid = config.get(P.smtpd_forbid_bare_newline);
  return {
    greeting: config.get(P.smtpd_banner),
    hostname: config.get(P.myhostname),
    messageSizeLimit: config.get(P.message_size_limit),
    recipientLimit: config.get(P.smtpd_recipient_limit),
    lineLengthLimit: config.get(P.line_length_limit),
    hardErrorLimit: config.get(P.smtpd_hard_error_limit),
    softErrorLimit: config.get(P.smtpd_soft_error_limit),
    junkCommandLimit: config.get(P.smtpd_junk_command_limit),
    forbidBareNewline: forbid === "reject" || forbid === "no" ? forbid : "normalize",
    disableVrfy: config.get(P.disable_vrfy_command),
    heloRequired: config.get(P.smtpd_helo_required),
    // STARTTLS and AUTH are switched on per connection by whoever has TLS and an auth service.
    extensions: { starttls: false, auth: null, dsn: true, chunking: true, smtputf8: true, pipelining: true },
  };
}
