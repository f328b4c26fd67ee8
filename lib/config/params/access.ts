/*
 * access — main.cf parameters: authentication, TLS for POP3/IMAP, POP3 and IMAP (Dovecot names). Part of the one parameter table (lib/config/params.ts).
 */
import { def } from "../param-def.js";

export const ACCESS_PARAMS = {
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
    doc: "Concurrent POP3 or IMAP connections one client IP may have to a login service (a session passed on to the mail process counts until it ends); 0 means no limit.",
  }),
  login_user: def({
    name: "login_user",
    kind: "str",
    default: "postern-login",
    doc: "The user pop3-login and imap-login run as (when master runs as root): no access to mail, the queue or password data.",
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
  imap_tls_wrappermode: def({
    name: "imap_tls_wrappermode",
    kind: "bool",
    default: "no",
    doc: "Start TLS before the IMAP greeting (port 993, imaps).",
  }),
  imap_max_bad_commands: def({
    name: "imap_max_bad_commands",
    kind: "int",
    default: "20",
    min: 1,
    doc: "Invalid IMAP commands a client may send before it is disconnected (* BYE Too many invalid IMAP commands.).",
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
