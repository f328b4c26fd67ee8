/*
 * imap — main.cf parameters of the IMAP mail process (Dovecot's names where it has them).
 * Part of the one parameter table (lib/config/params.ts). imap-login's parameters live
 * with the other login settings in access.ts.
 */
import { def } from "../param-def.js";

export const IMAP_PARAMS = {
  imap_idle_notify_interval: def({
    name: "imap_idle_notify_interval",
    kind: "time",
    default: "2m",
    unit: "s",
    min: 10,
    doc: 'How often an IDLE session gets an untagged "OK Still here", so firewalls and NAT keep the connection.',
  }),
  imap_client_idle_timeout: def({
    name: "imap_client_idle_timeout",
    kind: "time",
    default: "30m",
    unit: "s",
    min: 1800,
    doc: "Inactivity before an authenticated IMAP session is closed (RFC 3501: at least 30 minutes; IDLE clients re-issue IDLE before).",
  }),
  imap_max_append_size: def({
    name: "imap_max_append_size",
    kind: "size",
    default: "$message_size_limit",
    doc: "Largest message APPEND accepts (the APPENDLIMIT capability); 0 means no limit.",
  }),
} as const;
