/*
 * outbound — main.cf parameters: smtp (outbound) and bounce. Part of the one parameter table (lib/config/params.ts).
 */
import { def, timeout } from "../param-def.js";

export const OUTBOUND_PARAMS = {
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
} as const;
