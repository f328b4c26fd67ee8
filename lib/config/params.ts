/*
 * params — the one table of main.cf parameters.
 *
 * Every parameter postern understands is declared here once: name, kind, default,
 * bounds and a one-line doc. main.cf parsing, `postern conf -d`, `postern check` and the
 * postern.conf(5) man page all read this table; a test fails on an undocumented entry.
 * Defaults follow Postfix (and Dovecot for the mail-access side) wherever they have the
 * parameter. A default may reference other parameters with $name, expanded lazily.
 */
import { hostname } from "node:os";

export type ParamKind = "str" | "raw" | "int" | "size" | "bool" | "time" | "list";

export interface ParamDef<K extends ParamKind = ParamKind> {
  readonly name: string;
  readonly kind: K;
  /** Default as main.cf text; a function for defaults computed from the host. */
  readonly default: string | (() => string);
  readonly doc: string;
  readonly min?: number;
  readonly max?: number;
  /** For kind "time": the unit of a bare number (Postfix's per-parameter default unit). */
  readonly unit?: "s" | "m" | "h" | "d" | "w";
}

/** The JavaScript value a parameter of kind K converts to (time in seconds, size in bytes). */
export type ParamValue<K extends ParamKind> = K extends "int" | "size" | "time"
  ? number
  : K extends "bool"
    ? boolean
    : K extends "list"
      ? string[]
      : string;

function def<K extends ParamKind>(d: ParamDef<K>): ParamDef<K> {
  return d;
}

function timeout(name: string, seconds: number, doc: string): ParamDef<"time"> {
  return def({ name, kind: "time", default: `${seconds}s`, unit: "s", min: 1, doc });
}

function fqdn(): string {
  const h = hostname();
  return h.includes(".") ? h : `${h}.localdomain`;
}

function domainOf(host: string): string {
  const i = host.indexOf(".");
  return i > 0 ? host.slice(i + 1) : "localdomain";
}

/** Keyed by a camelCase handle so code says P.messageSizeLimit, never a bare string. */
export const P = {
  // ── identity ─────────────────────────────────────────────────────────────────
  myhostname: def({
    name: "myhostname",
    kind: "str",
    default: fqdn,
    doc: "The fully-qualified internet host name of this mail system.",
  }),
  mydomain: def({
    name: "mydomain",
    kind: "str",
    default: () => domainOf(fqdn()),
    doc: "The internet domain name of this mail system (default: $myhostname minus its first label).",
  }),
  myorigin: def({
    name: "myorigin",
    kind: "str",
    default: "$myhostname",
    doc: "The domain appended to addresses of locally posted mail without a domain.",
  }),
  mydestination: def({
    name: "mydestination",
    kind: "list",
    default: "$myhostname, localhost.$mydomain, localhost",
    doc: "Domains delivered locally by the local transport.",
  }),
  mynetworks: def({
    name: "mynetworks",
    kind: "list",
    default: "127.0.0.0/8 [::1]/128",
    doc: "Trusted client networks that permit_mynetworks allows to relay.",
  }),
  inet_interfaces: def({
    name: "inet_interfaces",
    kind: "list",
    default: "all",
    doc: "Addresses that inet services with a bare port listen on: all, loopback-only, or a list of addresses.",
  }),
  inet_protocols: def({
    name: "inet_protocols",
    kind: "list",
    default: "all",
    doc: "Address families used for listening and connecting: ipv4, ipv6 or all.",
  }),
  mail_name: def({
    name: "mail_name",
    kind: "str",
    default: "Postern",
    doc: "The mail system name shown in the SMTP greeting and Received headers.",
  }),
  mail_version: def({
    name: "mail_version",
    kind: "str",
    default: "0.1.0",
    doc: "The postern version (read-only, informational).",
  }),
  smtpd_banner: def({
    name: "smtpd_banner",
    kind: "str",
    default: "$myhostname ESMTP $mail_name",
    doc: "The text after 220 in the SMTP greeting.",
  }),

  // ── files and directories ────────────────────────────────────────────────────
  config_directory: def({
    name: "config_directory",
    kind: "str",
    default: "/etc/postern",
    doc: "Where main.cf and master.cf live (set by -c or POSTERN_CONFIG_DIR).",
  }),
  queue_directory: def({
    name: "queue_directory",
    kind: "str",
    default: "/var/spool/postern",
    doc: "The mail queue root: incoming, active, deferred, hold, corrupt, maildrop, private, public, pid.",
  }),
  data_directory: def({
    name: "data_directory",
    kind: "str",
    default: "/var/lib/postern",
    doc: "Where postern keeps its own data: compiled maps cache, TLS session state.",
  }),
  daemon_directory: def({
    name: "daemon_directory",
    kind: "str",
    default: "",
    doc: "Where the daemon programs named in master.cf are found (empty: the installed dist/daemons).",
  }),
  maillog_file: def({
    name: "maillog_file",
    kind: "str",
    default: "/var/log/maillog",
    doc: "The mail log file; /dev/stdout or /dev/stderr for containers and the journal.",
  }),
  syslog_name: def({
    name: "syslog_name",
    kind: "str",
    default: "postern",
    doc: "The program name prefix of every log line (set to postfix so existing log tools match).",
  }),
  alias_maps: def({
    name: "alias_maps",
    kind: "list",
    default: "hash:/etc/aliases",
    doc: "Alias databases used by local delivery, in order.",
  }),
  alias_database: def({
    name: "alias_database",
    kind: "list",
    default: "hash:/etc/aliases",
    doc: "Alias databases that `postern aliases` (newaliases) compiles.",
  }),
  virtual_home: def({
    name: "virtual_home",
    kind: "str",
    default: "/var/vmail/%d/%n",
    doc: "Home directory of users added with `postern user add` without --home (%u user, %n local part, %d domain).",
  }),
  user_passdb: def({
    name: "user_passdb",
    kind: "str",
    default: "$config_directory/users",
    doc: "The passwd-file (Dovecot format) of virtual mail users.",
  }),

  // ── processes (master) ───────────────────────────────────────────────────────
  default_process_limit: def({
    name: "default_process_limit",
    kind: "int",
    default: "100",
    min: 1,
    doc: "The default maxproc of a master.cf service ('-' in its maxproc column).",
  }),
  max_idle: def({
    name: "max_idle",
    kind: "time",
    default: "100s",
    unit: "s",
    min: 1,
    doc: "How long a worker waits with no work before it exits.",
  }),
  max_use: def({
    name: "max_use",
    kind: "int",
    default: "100",
    min: 1,
    doc: "How many sessions a worker serves before it exits and is replaced.",
  }),
  worker_connection_limit: def({
    name: "worker_connection_limit",
    kind: "int",
    default: "64",
    min: 1,
    doc: "Concurrent connections one worker of an event-driven service takes before master starts another (up to maxproc).",
  }),
  service_throttle_time: def({
    name: "service_throttle_time",
    kind: "time",
    default: "60s",
    unit: "s",
    min: 1,
    doc: "How long master waits before restarting a service whose workers keep dying.",
  }),
  daemon_timeout: def({
    name: "daemon_timeout",
    kind: "time",
    default: "18000s",
    unit: "s",
    doc: "How long a worker may take to handle one request before it is killed.",
  }),
  ipc_timeout: def({
    name: "ipc_timeout",
    kind: "time",
    default: "3600s",
    unit: "s",
    doc: "Time limit on one request between postern processes.",
  }),
  shutdown_timeout: def({
    name: "shutdown_timeout",
    kind: "time",
    default: "30s",
    unit: "s",
    doc: "How long `postern stop` lets workers finish their sessions before they are killed.",
  }),
  mail_owner: def({
    name: "mail_owner",
    kind: "str",
    default: "postern",
    doc: "The unprivileged user that owns the queue and runs most daemons.",
  }),

  // ── smtpd ────────────────────────────────────────────────────────────────────
  message_size_limit: def({
    name: "message_size_limit",
    kind: "size",
    default: "10240000",
    min: 0,
    doc: "Maximal size in bytes of a message, envelope included; 0 means no limit.",
  }),
  smtpd_recipient_limit: def({
    name: "smtpd_recipient_limit",
    kind: "int",
    default: "1000",
    min: 1,
    doc: "Maximal number of recipients of one message.",
  }),
  smtpd_timeout: def({
    name: "smtpd_timeout",
    kind: "time",
    default: "300s",
    unit: "s",
    min: 1,
    doc: "How long smtpd waits for a client command or data before it disconnects.",
  }),
  smtpd_hard_error_limit: def({
    name: "smtpd_hard_error_limit",
    kind: "int",
    default: "20",
    min: 1,
    doc: "Errors a client may make before smtpd disconnects it.",
  }),
  smtpd_soft_error_limit: def({
    name: "smtpd_soft_error_limit",
    kind: "int",
    default: "10",
    min: 1,
    doc: "Errors after which smtpd delays each reply by one second.",
  }),
  smtpd_client_connection_count_limit: def({
    name: "smtpd_client_connection_count_limit",
    kind: "int",
    default: "50",
    min: 0,
    doc: "Concurrent connections one client IP may have to an SMTP service; 0 means no limit.",
  }),
  line_length_limit: def({
    name: "line_length_limit",
    kind: "int",
    default: "2048",
    min: 512,
    doc: "Longest SMTP command or header line accepted; longer data lines are split into pieces.",
  }),
  smtpd_forbid_bare_newline: def({
    name: "smtpd_forbid_bare_newline",
    kind: "str",
    default: "normalize",
    doc: "What to do with a bare LF in SMTP commands or DATA: normalize (accept the line as if CRLF), reject, or no.",
  }),
  smtpd_forbid_unauth_pipelining: def({
    name: "smtpd_forbid_unauth_pipelining",
    kind: "bool",
    default: "yes",
    doc: "Disconnect clients that send commands ahead of the greeting or pipeline without PIPELINING.",
  }),
  disable_vrfy_command: def({
    name: "disable_vrfy_command",
    kind: "bool",
    default: "yes",
    doc: "Refuse the SMTP VRFY command.",
  }),
  smtpd_helo_required: def({
    name: "smtpd_helo_required",
    kind: "bool",
    default: "no",
    doc: "Require HELO or EHLO before MAIL FROM.",
  }),
  smtpd_peername_lookup: def({
    name: "smtpd_peername_lookup",
    kind: "bool",
    default: "yes",
    doc: 'Look up the client\'s host name (reverse, then forward-confirmed); otherwise every client is "unknown".',
  }),
  smtpd_client_restrictions: def({
    name: "smtpd_client_restrictions",
    kind: "list",
    default: "",
    doc: "Restrictions applied when a client connects.",
  }),
  smtpd_helo_restrictions: def({
    name: "smtpd_helo_restrictions",
    kind: "list",
    default: "",
    doc: "Restrictions applied to the HELO/EHLO name.",
  }),
  smtpd_sender_restrictions: def({
    name: "smtpd_sender_restrictions",
    kind: "list",
    default: "",
    doc: "Restrictions applied to the MAIL FROM address.",
  }),
  smtpd_relay_restrictions: def({
    name: "smtpd_relay_restrictions",
    kind: "list",
    default: "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination",
    doc: "Relay control, applied at RCPT TO before smtpd_recipient_restrictions.",
  }),
  smtpd_recipient_restrictions: def({
    name: "smtpd_recipient_restrictions",
    kind: "list",
    default: "",
    doc: "Restrictions applied to each RCPT TO address.",
  }),
  smtpd_data_restrictions: def({
    name: "smtpd_data_restrictions",
    kind: "list",
    default: "",
    doc: "Restrictions applied at DATA.",
  }),
  smtpd_delay_reject: def({
    name: "smtpd_delay_reject",
    kind: "bool",
    default: "yes",
    doc: "Apply client, helo and sender restrictions at RCPT TO, as Postfix does by default.",
  }),
  local_recipient_maps: def({
    name: "local_recipient_maps",
    kind: "list",
    default: "unix:passwd.byname passwd-file:$user_passdb $alias_maps",
    doc: "Lookup tables of valid local recipients; empty disables the RCPT check (not recommended).",
  }),
  relay_domains: def({
    name: "relay_domains",
    kind: "list",
    default: "",
    doc: "Remote domains this system relays mail to from anywhere.",
  }),
  smtpd_reject_unlisted_recipient: def({
    name: "smtpd_reject_unlisted_recipient",
    kind: "bool",
    default: "yes",
    doc: "Reject recipients in local domains that local_recipient_maps does not know.",
  }),
  unknown_local_recipient_reject_code: def({
    name: "unknown_local_recipient_reject_code",
    kind: "int",
    default: "550",
    min: 400,
    max: 599,
    doc: "Reply code for an unknown recipient in a local domain.",
  }),
  smtpd_tls_cert_file: def({
    name: "smtpd_tls_cert_file",
    kind: "str",
    default: "",
    doc: "PEM certificate (with its chain) for the SMTP server's TLS; empty: no TLS.",
  }),
  smtpd_tls_key_file: def({
    name: "smtpd_tls_key_file",
    kind: "str",
    default: "$smtpd_tls_cert_file",
    doc: "PEM private key for smtpd_tls_cert_file.",
  }),
  smtpd_tls_security_level: def({
    name: "smtpd_tls_security_level",
    kind: "str",
    default: "none",
    doc: "SMTP server TLS: none, may (offer STARTTLS) or encrypt (require it before MAIL FROM).",
  }),
  smtpd_tls_auth_only: def({
    name: "smtpd_tls_auth_only",
    kind: "bool",
    default: "no",
    doc: "Offer AUTH only after TLS is established.",
  }),
  smtpd_tls_wrappermode: def({
    name: "smtpd_tls_wrappermode",
    kind: "bool",
    default: "no",
    doc: "Start TLS before the greeting (port 465, smtps / submissions).",
  }),
  smtpd_tls_protocols: def({
    name: "smtpd_tls_protocols",
    kind: "str",
    default: ">=TLSv1.2",
    doc: "TLS protocol versions the SMTP server accepts (Postfix syntax, e.g. >=TLSv1.2).",
  }),
  smtpd_sasl_auth_enable: def({
    name: "smtpd_sasl_auth_enable",
    kind: "bool",
    default: "no",
    doc: "Offer SMTP AUTH.",
  }),
  allow_percent_hack: def({
    name: "allow_percent_hack",
    kind: "bool",
    default: "no",
    doc: "Rewrite user%domain@here as user@domain (off: the address is treated as a local user name).",
  }),
  swap_bangpath: def({
    name: "swap_bangpath",
    kind: "bool",
    default: "no",
    doc: "Rewrite site!user as user@site (off: the address is treated as a local user name).",
  }),
  recipient_delimiter: def({
    name: "recipient_delimiter",
    kind: "str",
    default: "+",
    doc: "Separator between a user name and an address extension (user+ext); empty disables extensions.",
  }),

  // ── cleanup ──────────────────────────────────────────────────────────────────
  always_add_missing_headers: def({
    name: "always_add_missing_headers",
    kind: "bool",
    default: "yes",
    doc: "Add Message-ID, Date and From when missing, also for mail from remote clients.",
  }),
  header_size_limit: def({
    name: "header_size_limit",
    kind: "size",
    default: "102400",
    min: 1,
    doc: "Maximal size of one message header; longer headers are truncated.",
  }),

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

  // ── smtp (outbound) ──────────────────────────────────────────────────────────
  relayhost: def({
    name: "relayhost",
    kind: "str",
    default: "",
    doc: "Next hop for mail to non-local domains: [host]:port (no MX lookup) or host:port (MX lookup); empty: DNS.",
  }),
  transport_maps: def({
    name: "transport_maps",
    kind: "list",
    default: "",
    doc: "Lookup tables mapping a recipient domain (or .parent, or *) to transport:nexthop, e.g. smtp:[host]:port.",
  }),
  smtp_host_lookup: def({
    name: "smtp_host_lookup",
    kind: "list",
    default: "dns",
    doc: "How the smtp client finds host addresses: dns, native (the system resolver, /etc/hosts), or both in order.",
  }),
  smtp_dns_servers: def({
    name: "smtp_dns_servers",
    kind: "list",
    default: "",
    doc: "DNS servers (ip or ip:port) the smtp client asks for MX and address records; empty: those of resolv.conf.",
  }),
  smtp_tcp_port: def({
    name: "smtp_tcp_port",
    kind: "int",
    default: "25",
    min: 1,
    max: 65535,
    doc: "The TCP port the smtp client connects to when the next hop names none (as Postfix's lmtp_tcp_port).",
  }),
  smtp_helo_name: def({
    name: "smtp_helo_name",
    kind: "str",
    default: "$myhostname",
    doc: "The host name sent in the smtp client's EHLO or HELO command.",
  }),
  smtp_tls_security_level: def({
    name: "smtp_tls_security_level",
    kind: "str",
    default: "may",
    doc: "STARTTLS policy of the smtp client: none, may (opportunistic, no certificate check) or encrypt (mandatory).",
  }),
  smtp_connect_timeout: timeout(
    "smtp_connect_timeout",
    30,
    "Time limit for the smtp client to complete a TCP connection.",
  ),
  smtp_helo_timeout: timeout(
    "smtp_helo_timeout",
    300,
    "Time limit for the greeting and the EHLO/HELO (and STARTTLS) replies.",
  ),
  smtp_mail_timeout: timeout("smtp_mail_timeout", 300, "Time limit for the reply to MAIL FROM."),
  smtp_rcpt_timeout: timeout("smtp_rcpt_timeout", 300, "Time limit for the reply to RCPT TO."),
  smtp_data_init_timeout: timeout("smtp_data_init_timeout", 120, "Time limit for the reply to DATA."),
  smtp_data_xfer_timeout: timeout(
    "smtp_data_xfer_timeout",
    180,
    "Time limit for sending one chunk of message content.",
  ),
  smtp_data_done_timeout: timeout(
    "smtp_data_done_timeout",
    600,
    "Time limit for the reply to the end of the message.",
  ),
  smtp_rset_timeout: timeout(
    "smtp_rset_timeout",
    20,
    "Time limit for the reply to RSET before a cached connection is reused.",
  ),
  smtp_quit_timeout: timeout("smtp_quit_timeout", 300, "Time limit for the reply to QUIT."),
  smtp_connection_cache_time_limit: def({
    name: "smtp_connection_cache_time_limit",
    kind: "time",
    default: "2s",
    unit: "s",
    min: 0,
    doc: "How long the smtp client keeps an idle connection open for reuse; 0 disables connection caching.",
  }),
  smtp_connection_reuse_count_limit: def({
    name: "smtp_connection_reuse_count_limit",
    kind: "int",
    default: "100",
    min: 1,
    doc: "How many messages one cached smtp connection carries before it is closed.",
  }),

  // ── bounce ───────────────────────────────────────────────────────────────────
  bounce_size_limit: def({
    name: "bounce_size_limit",
    kind: "size",
    default: "50000",
    min: 0,
    doc: "Largest original message returned whole in a non-delivery notice; larger ones are returned as headers only.",
  }),
  delay_warning_time: def({
    name: "delay_warning_time",
    kind: "time",
    default: "0h",
    unit: "h",
    min: 0,
    doc: "Tell the sender when mail is still undelivered after this long; 0 disables delay notices.",
  }),
  double_bounce_sender: def({
    name: "double_bounce_sender",
    kind: "str",
    default: "double-bounce",
    doc: "Sender of postmaster notices about undeliverable bounces; mail to it is discarded.",
  }),
  "2bounce_notice_recipient": def({
    name: "2bounce_notice_recipient",
    kind: "str",
    default: "postmaster",
    doc: "Who is told about a bounce that could not be delivered.",
  }),

  // ── authentication and POP3 (Dovecot names) ──────────────────────────────────
  disable_plaintext_auth: def({
    name: "disable_plaintext_auth",
    kind: "bool",
    default: "yes",
    doc: "Refuse plaintext passwords (USER/PASS, LOGIN, AUTH PLAIN) on connections that are neither TLS nor loopback.",
  }),
  auth_mechanisms: def({
    name: "auth_mechanisms",
    kind: "list",
    default: "plain login",
    doc: "SASL mechanisms offered by POP3, IMAP and SMTP AUTH (plain, login, cram-md5).",
  }),
  auth_failure_delay_max: def({
    name: "auth_failure_delay_max",
    kind: "time",
    default: "15s",
    unit: "s",
    min: 0,
    doc: "Longest delay before a failed login is answered; the delay doubles per failure from one IP.",
  }),
  ssl: def({
    name: "ssl",
    kind: "str",
    default: "yes",
    doc: "TLS for POP3 and IMAP (Dovecot): no, yes (STLS/STARTTLS offered) or required (no login before TLS).",
  }),
  ssl_cert: def({
    name: "ssl_cert",
    kind: "str",
    default: "$smtpd_tls_cert_file",
    doc: "PEM certificate for POP3 and IMAP TLS (a leading < as in Dovecot is accepted).",
  }),
  ssl_key: def({
    name: "ssl_key",
    kind: "str",
    default: "$smtpd_tls_key_file",
    doc: "PEM private key for ssl_cert.",
  }),
  ssl_min_protocol: def({
    name: "ssl_min_protocol",
    kind: "str",
    default: "TLSv1.2",
    doc: "Oldest TLS version POP3 and IMAP accept.",
  }),
  login_timeout: def({
    name: "login_timeout",
    kind: "time",
    default: "180s",
    unit: "s",
    min: 1,
    doc: "How long a POP3 or IMAP client may take to log in.",
  }),
  login_client_connection_count_limit: def({
    name: "login_client_connection_count_limit",
    kind: "int",
    default: "50",
    min: 0,
    doc: "Concurrent POP3 or IMAP connections one client IP may have to a login service; 0 means no limit.",
  }),
  login_loopback_secured: def({
    name: "login_loopback_secured",
    kind: "bool",
    default: "yes",
    doc: "Treat loopback connections as secure for disable_plaintext_auth, as Dovecot does.",
  }),
  pop3_tls_wrappermode: def({
    name: "pop3_tls_wrappermode",
    kind: "bool",
    default: "no",
    doc: "Start TLS before the POP3 greeting (port 995, pop3s).",
  }),
  pop3_uidl_format: def({
    name: "pop3_uidl_format",
    kind: "str",
    default: "%08Xu%08Xv",
    doc: "UIDL format (Dovecot): %u UID, %v UIDVALIDITY, %X hex, %f file name.",
  }),
  pop3_idle_timeout: def({
    name: "pop3_idle_timeout",
    kind: "time",
    default: "600s",
    unit: "s",
    min: 600,
    doc: "Idle time before a POP3 session is closed (RFC 1939: at least 10 minutes).",
  }),
  imap_max_line_length: def({
    name: "imap_max_line_length",
    kind: "size",
    default: "65536",
    min: 1024,
    doc: "Longest IMAP command line (literals not counted), as Dovecot; a longer one is answered BAD and skipped.",
  }),
  imap_hierarchy_separator: def({
    name: "imap_hierarchy_separator",
    kind: "str",
    default: "/",
    doc: "The IMAP hierarchy separator shown to clients (folders are stored as Maildir++ .a.b directories whatever it is).",
  }),
  pop3_enable_apop: def({
    name: "pop3_enable_apop",
    kind: "bool",
    default: "no",
    doc: "Offer APOP (a timestamp in the POP3 greeting); needs plaintext-recoverable passwords.",
  }),
  pop3_max_bad_commands: def({
    name: "pop3_max_bad_commands",
    kind: "int",
    default: "20",
    min: 1,
    doc: "Bad POP3 commands a client may send before it is disconnected.",
  }),
  pop3_command_line_limit: def({
    name: "pop3_command_line_limit",
    kind: "size",
    default: "2048",
    min: 512,
    doc: "Longest POP3 command line accepted.",
  }),
} as const;

export type ParamName = (typeof P)[keyof typeof P]["name"];

/** All parameters, sorted by name, for conf -d and the man page. */
export const ALL_PARAMS: readonly ParamDef[] = Object.values(P)
  .map((d) => d as ParamDef)
  .sort((a, b) => a.name.localeCompare(b.name));

const byName = new Map<string, ParamDef>(ALL_PARAMS.map((d) => [d.name, d]));

export function paramByName(name: string): ParamDef | undefined {
  return byName.get(name);
}
