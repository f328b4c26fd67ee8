/*
 * settings — the pop3 mail process' settings, read once from main.cf (Dovecot's parameter
 * names, such as pop3_uidl_format, declared in lib/config/params.ts).
 */
import type { MainCf } from "../config/index.js";
import { P } from "../config/params.js";
import type { MailUserOptions } from "../login/mail-user.js";
import { DEFAULT_UIDL_FORMAT } from "../mailbox/uidl.js";

export interface Pop3dSettings {
  lineLimit: number;
  maxBadCommands: number;
  uidlFormat: string;
  /** RFC 1939 3: the autologout timer must be at least 10 minutes. */
  idleTimeoutMs: number;
  handoffTimeoutMs: number;
  /** For a root process: whom to become (login/mail-user.ts). */
  mailUser: MailUserOptions;
  mailLocation: string;
  homeMailbox: string;
  mailSpoolDirectory: string;
}

export function pop3dSettings(config: MainCf): Pop3dSettings {
  return {
    lineLimit: config.get(P.pop3_command_line_limit),
    maxBadCommands: config.get(P.pop3_max_bad_commands),
    uidlFormat: config.get(P.pop3_uidl_format) || DEFAULT_UIDL_FORMAT,
    idleTimeoutMs: config.get(P.pop3_idle_timeout) * 1000,
    handoffTimeoutMs: config.get(P.ipc_timeout) * 1000,
    mailUser: {
      virtualUser: config.get(P.virtual_uid),
      singleSession: config.get(P.worker_connection_limit) === 1 && config.get(P.max_use) === 1,
    },
    mailLocation: config.get(P.mail_location),
    homeMailbox: config.get(P.home_mailbox),
    mailSpoolDirectory: config.get(P.mail_spool_directory),
  };
}
