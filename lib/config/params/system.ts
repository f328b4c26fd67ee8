/*
 * system — main.cf parameters: identity, files and directories, processes (master). Part of the one parameter table (lib/config/params.ts).
 */
import { hostname } from "node:os";
import { def } from "../param-def.js";

function fqdn(): string {
  const h = hostname();
  return h.includes(".") ? h : `${h}.localdomain`;
}

function domainOf(host: string): string {
  const i = host.indexOf(".");
  return i > 0 ? host.slice(i + 1) : "localdomain";
}

/** Keyed by a camelCase handle so code says P.messageSizeLimit, never a bare string. */

export const SYSTEM_PARAMS = {
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
    default: "10000",
    min: 1,
    doc: "How many sessions a worker serves before it exits and is replaced (Postfix: 100). A new Node worker costs ~0.2 s of CPU to start and runs its code cold for its first ~2,000 sessions (smtpd: 1.2-1.6 ms of CPU per session, 0.65-0.7 once warm), so postern replaces workers far less often. Master gives a worker no more than this many sessions, and starts its replacement at 95% of them when no other worker of the service could take its clients.",
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
    doc: "The unprivileged user that owns the queue and runs the daemons whose master.cf unpriv column is y (when master runs as root).",
  }),
  setgid_group: def({
    name: "setgid_group",
    kind: "str",
    default: "postdrop",
    doc: "The group of maildrop/, public/ and private/ and the group every unprivileged daemon runs with (it may append to maillog_file).",
  }),
} as const;
