/*
 * params — the main.cf parameters of the smtp delivery agent (Postfix's smtp(8) names and
 * defaults). Declared here until the lead moves them into lib/config/params.ts; MainCf.get()
 * accepts a daemon's private ParamDef, so callers already read typed, bounds-checked values.
 * Talks to nothing.
 */
import type { ParamDef, ParamKind } from "../config/index.js";

function def<K extends ParamKind>(d: ParamDef<K>): ParamDef<K> {
  return d;
}

function timeout(name: string, seconds: number, doc: string): ParamDef<"time"> {
  return def({ name, kind: "time", default: `${seconds}s`, unit: "s", min: 1, doc });
}

export const SP = {
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
} as const;
