/*
 * settings — the imap mail process' settings, read once from main.cf: the mailbox location
 * as local delivery computes it, the separator, limits and timeouts.
 */
import type { MainCf } from "../config/index.js";
import { P } from "../config/params.js";
import type { MailUserOptions } from "../login/mail-user.js";

export interface ImapdSettings {
  /** For the "[host:time]" of an internal-error answer. */
  readonly hostname: string;
  readonly separator: string;
  readonly maxLineLength: number;
  /** APPENDLIMIT in bytes; 0: none. */
  readonly appendLimit: number;
  readonly maxBadCommands: number;
  readonly idleNotifyMs: number;
  readonly idleTimeoutMs: number;
  readonly handoffTimeoutMs: number;
  /** For a root process: whom to become (login/mail-user.ts). */
  readonly mailUser: MailUserOptions;
  readonly mailLocation: string;
  readonly homeMailbox: string;
  readonly mailSpoolDirectory: string;
}

export function imapdSettings(config: MainCf): ImapdSettings {
  return {
    hostname: config.get(P.myhostname),
    separator: config.get(P.imap_hierarchy_separator) || "/",
    maxLineLength: config.get(P.imap_max_line_length),
    appendLimit: config.get(P.imap_max_append_size),
    maxBadCommands: config.get(P.imap_max_bad_commands),
    idleNotifyMs: config.get(P.imap_idle_notify_interval) * 1000,
    idleTimeoutMs: config.get(P.imap_client_idle_timeout) * 1000,
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
