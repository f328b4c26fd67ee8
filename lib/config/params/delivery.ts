/*
 * delivery — main.cf parameters: qmgr and local delivery. Part of the one parameter table (lib/config/params.ts).
 */
import { def } from "../param-def.js";

export const DELIVERY_PARAMS = {
  // ── qmgr ─────────────────────────────────────────────────────────────────────
  queue_run_delay: def({
    name: "queue_run_delay",
    kind: "time",
    default: "300s",
    unit: "s",
    min: 1,
    doc: "How often the queue manager scans the deferred queue.",
  }),
  minimal_backoff_time: def({
    name: "minimal_backoff_time",
    kind: "time",
    default: "300s",
    unit: "s",
    min: 1,
    doc: "The shortest time a deferred message waits before the next attempt.",
  }),
  maximal_backoff_time: def({
    name: "maximal_backoff_time",
    kind: "time",
    default: "4000s",
    unit: "s",
    min: 1,
    doc: "The longest time a deferred message waits before the next attempt.",
  }),
  maximal_queue_lifetime: def({
    name: "maximal_queue_lifetime",
    kind: "time",
    default: "5d",
    unit: "d",
    min: 0,
    doc: "How long a message may stay in the queue before it is bounced as undeliverable.",
  }),
  bounce_queue_lifetime: def({
    name: "bounce_queue_lifetime",
    kind: "time",
    default: "5d",
    unit: "d",
    min: 0,
    doc: "How long a bounce message may stay in the queue.",
  }),
  qmgr_message_active_limit: def({
    name: "qmgr_message_active_limit",
    kind: "int",
    default: "20000",
    min: 1,
    doc: "Maximal number of messages in the active queue.",
  }),
  default_destination_concurrency_limit: def({
    name: "default_destination_concurrency_limit",
    kind: "int",
    default: "20",
    min: 1,
    doc: "Parallel deliveries to one destination.",
  }),
  local_destination_concurrency_limit: def({
    name: "local_destination_concurrency_limit",
    kind: "int",
    default: "2",
    min: 1,
    doc: "Parallel local deliveries to one recipient.",
  }),
  default_recipient_limit: def({
    name: "default_recipient_limit",
    kind: "int",
    default: "20000",
    min: 1,
    doc: "Recipients one delivery request may carry.",
  }),

  // ── local ────────────────────────────────────────────────────────────────────
  home_mailbox: def({
    name: "home_mailbox",
    kind: "str",
    default: "",
    doc: "Mailbox relative to the user's home; a trailing / means Maildir. Empty: mail_spool_directory.",
  }),
  mail_spool_directory: def({
    name: "mail_spool_directory",
    kind: "str",
    default: "/var/mail",
    doc: "Directory of mbox files named after users (a trailing / makes them Maildirs).",
  }),
  mailbox_command: def({
    name: "mailbox_command",
    kind: "str",
    default: "",
    doc: "External command (such as procmail) that delivers instead of the mailbox.",
  }),
  mail_location: def({
    name: "mail_location",
    kind: "str",
    default: "",
    doc: "Dovecot-style location for virtual users (maildir:~/Maildir, mbox:%h/mbox; %u %n %d %h); overrides home_mailbox.",
  }),
  local_system_users: def({
    name: "local_system_users",
    kind: "bool",
    default: "yes",
    doc: "Deliver to system accounts (getpwnam) as well as to passwd-file users.",
  }),
  virtual_uid: def({
    name: "virtual_uid",
    kind: "str",
    default: "vmail",
    doc: "The user that owns virtual users' mail when the passwd-file gives no uid.",
  }),
  forward_path: def({
    name: "forward_path",
    kind: "raw",
    default: "$home/.forward",
    doc: "Where local delivery looks for a user's .forward file.",
  }),
  allow_mail_to_commands: def({
    name: "allow_mail_to_commands",
    kind: "list",
    default: "alias, forward",
    doc: "Where |command destinations are allowed: alias, forward, include.",
  }),
  allow_mail_to_files: def({
    name: "allow_mail_to_files",
    kind: "list",
    default: "alias, forward",
    doc: "Where /file destinations are allowed: alias, forward, include.",
  }),
  default_privs: def({
    name: "default_privs",
    kind: "str",
    default: "nobody",
    doc: "The user that deliveries to commands and files from aliases run as.",
  }),
  command_time_limit: def({
    name: "command_time_limit",
    kind: "time",
    default: "1000s",
    unit: "s",
    min: 1,
    doc: "Time limit on a delivery to a command.",
  }),
  mailbox_size_limit: def({
    name: "mailbox_size_limit",
    kind: "size",
    default: "51200000",
    min: 0,
    doc: "Maximal size of an mbox file or a single Maildir message; 0 means no limit.",
  }),
  owner_request_special: def({
    name: "owner_request_special",
    kind: "bool",
    default: "yes",
    doc: "Treat owner-list aliases as the envelope sender of mail to list.",
  }),
  recipes_enable: def({
    name: "recipes_enable",
    kind: "bool",
    default: "yes",
    doc: "Filter local mailbox deliveries through procmail-compatible recipes when recipes_site_rc or the user's ~/.procmailrc exists (and mailbox_command is unset).",
  }),
  recipes_site_rc: def({
    name: "recipes_site_rc",
    kind: "str",
    default: "$config_directory/procmailrc",
    doc: "The site-wide recipe file run before the user's ~/.procmailrc (like /etc/procmailrc).",
  }),
  prepend_delivered_header: def({
    name: "prepend_delivered_header",
    kind: "list",
    default: "command, file, forward",
    doc: "Deliveries that get a Delivered-To header (mailbox deliveries always do).",
  }),
} as const;
