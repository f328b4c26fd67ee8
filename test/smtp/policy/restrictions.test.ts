/*
 * Tests for lib/smtp/policy/restrictions.ts: each restriction's permit / reject / dunno
 * with Postfix's exact reply texts, the relay tricks, and access-map results.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PolicyContext, PolicyEnv } from "../../../lib/smtp/policy/index.js";
import { type Loose, run } from "./helpers.js";

interface Case {
  list: string;
  ctx?: Loose<PolicyContext>;
  env?: Loose<PolicyEnv>;
  param?: string;
  want: string;
  why: string;
}

function table(title: string, cases: Case[]): void {
  describe(title, () => {
    for (const c of cases) {
      it(`${c.list} ${c.why}`, async () => {
        assert.equal(await run(c.list, c.ctx, c.env, c.param), c.want);
      });
    }
  });
}

const remote = { recipient: "u@remote.example" };

table("generic restrictions", [
  { list: "permit", want: "permit", why: "permits" },
  { list: "dunno", want: "dunno", why: "decides nothing" },
  {
    list: "reject",
    want: "554 5.7.1 <alice@here.example>: Recipient address rejected: Access denied",
    why: "rejects the recipient in a recipient list",
  },
  {
    list: "reject",
    param: "smtpd_client_restrictions",
    want: "554 5.7.1 <unknown[203.0.113.5]>: Client host rejected: Access denied",
    why: "rejects the client in a client list",
  },
  {
    list: "defer",
    param: "smtpd_helo_restrictions",
    want: "450 4.7.1 <client.example>: Helo command rejected: Try again later",
    why: "defers the HELO in a helo list",
  },
  {
    list: "reject",
    param: "smtpd_sender_restrictions",
    want: "554 5.7.1 <s@sender.example>: Sender address rejected: Access denied",
    why: "rejects the sender in a sender list",
  },
  {
    list: "reject",
    param: "smtpd_data_restrictions",
    want: "554 5.7.1 <DATA>: Data command rejected: Access denied",
    why: "rejects DATA in a data list",
  },
  {
    list: "defer_if_permit",
    want: "450 4.7.1 <alice@here.example>: Recipient address rejected: defer_if_permit requested",
    why: "defers at the end of the list",
  },
]);

table("permit_mynetworks and permit_sasl_authenticated", [
  { list: "permit_mynetworks", ctx: { clientIp: "127.0.0.1" }, want: "permit", why: "permits loopback" },
  {
    list: "permit_mynetworks",
    ctx: { clientIp: "::1" },
    want: "permit",
    why: "permits IPv6 loopback in bracket form",
  },
  {
    list: "permit_mynetworks",
    ctx: { clientIp: "::ffff:192.168.1.77" },
    want: "permit",
    why: "permits an IPv4-mapped client in a /24",
  },
  { list: "permit_mynetworks", want: "dunno", why: "ignores other clients" },
  {
    list: "permit_mynetworks",
    env: { mynetworks: ["example.com"] },
    want: "451 4.3.5 Server configuration error",
    why: "fails closed on a host name entry",
  },
  {
    list: "permit_sasl_authenticated",
    ctx: { saslUser: "alice" },
    want: "permit",
    why: "permits an authenticated client",
  },
  { list: "permit_sasl_authenticated", want: "dunno", why: "ignores anonymous clients" },
]);

const relay = "554 5.7.1 <%>: Relay access denied";
const tricks = [
  "user%remote.example@here.example",
  '"user@remote.example"@here.example',
  "@here.example:user@remote.example",
  "user@remote.example@here.example",
  "remote.example!user@here.example",
  "user@[127.0.0.1]",
];
table("reject_unauth_destination and defer_unauth_destination", [
  {
    list: "reject_unauth_destination",
    ctx: remote,
    want: "554 5.7.1 <u@remote.example>: Relay access denied",
    why: "refuses a remote recipient",
  },
  {
    list: "defer_unauth_destination",
    ctx: remote,
    want: "454 4.7.1 <u@remote.example>: Relay access denied",
    why: "defers a remote recipient",
  },
  { list: "reject_unauth_destination", want: "dunno", why: "accepts a local recipient" },
  {
    list: "reject_unauth_destination",
    ctx: { recipient: "u@mx.relayed.example" },
    want: "dunno",
    why: "accepts a relay_domains subdomain",
  },
  {
    list: "reject_unauth_destination",
    ctx: { recipient: "postmaster" },
    want: "dunno",
    why: "accepts an unqualified (local) recipient",
  },
  {
    list: "reject_unauth_destination",
    ctx: { recipient: undefined },
    want: "dunno",
    why: "does nothing without a recipient",
  },
  ...tricks.map((t) => ({
    list: "reject_unauth_destination",
    ctx: { recipient: t },
    want: relay.replace("%", t),
    why: `refuses the relay trick ${t}`,
  })),
  ...tricks.map((t) => ({
    list: "permit_mynetworks reject_unauth_destination",
    ctx: { recipient: t, clientIp: "127.0.0.1" },
    want: "permit",
    why: `lets a trusted client send to ${t}`,
  })),
  { list: "permit_auth_destination", want: "permit", why: "permits a local recipient" },
  {
    list: "permit_auth_destination",
    ctx: remote,
    want: "dunno",
    why: "says nothing about a remote recipient",
  },
]);

const unknownUser =
  "550 5.1.1 <bob@here.example>: Recipient address rejected: User unknown in local recipient table";
table("reject_unlisted_recipient and reject_unlisted_sender", [
  {
    list: "reject_unlisted_recipient",
    ctx: { recipient: "bob@here.example" },
    want: unknownUser,
    why: "refuses an unknown local user",
  },
  { list: "reject_unlisted_recipient", want: "dunno", why: "accepts a known local user" },
  { list: "reject_unlisted_recipient", ctx: remote, want: "dunno", why: "ignores remote recipients" },
  {
    list: "reject_unlisted_recipient",
    ctx: { recipient: "bob@here.example" },
    env: { unknownLocalRecipientRejectCode: 450 },
    want: unknownUser.replace("550 5", "450 4"),
    why: "uses unknown_local_recipient_reject_code",
  },
  {
    list: "reject_unlisted_recipient",
    ctx: { recipient: "alice%remote.example@here.example" },
    want: "550 5.1.1 <alice%remote.example@here.example>: Recipient address rejected: User unknown in local recipient table",
    why: "treats a percent-hack address as an unknown local user",
  },
  {
    list: "reject_unlisted_recipient",
    ctx: { recipient: "bob@here.example" },
    env: { localRecipient: async () => "unknown-domain" as const },
    want: "dunno",
    why: "leaves domains the table does not serve alone",
  },
  {
    list: "reject_unlisted_recipient",
    ctx: { recipient: "bob@here.example" },
    env: {
      localRecipient: async () => {
        throw new Error("db down");
      },
    },
    want: "451 4.3.0 <bob@here.example>: Temporary lookup failure",
    why: "turns a lookup failure into a temporary failure",
  },
  {
    list: "reject_unlisted_sender",
    ctx: { sender: "bob@here.example" },
    want: "550 5.1.0 <bob@here.example>: Sender address rejected: User unknown in local recipient table",
    why: "refuses an unknown local sender",
  },
  { list: "reject_unlisted_sender", ctx: { sender: "" }, want: "dunno", why: "ignores the null sender" },
]);

table("fully-qualified and valid names", [
  {
    list: "reject_non_fqdn_sender",
    ctx: { sender: "x" },
    want: "504 5.5.2 <x>: Sender address rejected: need fully-qualified address",
    why: "refuses a bare sender",
  },
  {
    list: "reject_non_fqdn_sender",
    ctx: { sender: "x@localhost" },
    want: "504 5.5.2 <x@localhost>: Sender address rejected: need fully-qualified address",
    why: "refuses a single-label domain",
  },
  { list: "reject_non_fqdn_sender", ctx: { sender: "" }, want: "dunno", why: "accepts the null sender" },
  {
    list: "reject_non_fqdn_sender",
    ctx: { sender: "x@[192.0.2.1]" },
    want: "dunno",
    why: "skips address literals",
  },
  {
    list: "reject_non_fqdn_sender",
    ctx: { sender: "x@example.org." },
    want: "dunno",
    why: "accepts a trailing dot",
  },
  {
    list: "reject_non_fqdn_recipient",
    ctx: { recipient: "postmaster" },
    want: "504 5.5.2 <postmaster>: Recipient address rejected: need fully-qualified address",
    why: "refuses a bare recipient",
  },
  {
    list: "reject_non_fqdn_helo_hostname",
    ctx: { helo: "localhost" },
    want: "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname",
    why: "refuses a single-label HELO",
  },
  {
    list: "reject_non_fqdn_helo_hostname",
    ctx: { helo: "[192.0.2.1]" },
    want: "dunno",
    why: "skips an address literal",
  },
  {
    list: "reject_non_fqdn_helo_hostname",
    ctx: { helo: "" },
    want: "dunno",
    why: "does nothing before HELO",
  },
  {
    list: "reject_invalid_helo_hostname",
    ctx: { helo: "bad!name" },
    want: "501 5.5.2 <bad!name>: Helo command rejected: Invalid name",
    why: "refuses a malformed name",
  },
  {
    list: "reject_invalid_helo_hostname",
    ctx: { helo: "[999.1.1.1]" },
    want: "501 5.5.2 <[999.1.1.1]>: Helo command rejected: invalid ip address",
    why: "refuses a malformed literal",
  },
  {
    list: "reject_invalid_helo_hostname",
    ctx: { helo: "localhost" },
    want: "dunno",
    why: "accepts a single-label name",
  },
  {
    list: "reject_invalid_helo_hostname",
    ctx: { helo: "192.0.2.1" },
    want: "dunno",
    why: "accepts a bare address",
  },
  {
    list: "reject_invalid_hostname",
    ctx: { helo: "a\r\nb" },
    want: "501 5.5.2 <a??b>: Helo command rejected: Invalid name",
    why: "never echoes control characters",
  },
]);

table("reject_unknown_sender_domain and reject_unknown_recipient_domain", [
  {
    list: "reject_unknown_recipient_domain",
    ctx: { recipient: "u@nx.example" },
    want: "450 4.1.2 <u@nx.example>: Recipient address rejected: Domain not found",
    why: "refuses a domain that does not exist",
  },
  {
    list: "reject_unknown_recipient_domain",
    ctx: { recipient: "u@tmp.example" },
    want: "450 4.1.2 <u@tmp.example>: Recipient address rejected: Domain not found",
    why: "defers on a DNS failure",
  },
  { list: "reject_unknown_recipient_domain", want: "dunno", why: "skips local domains" },
  {
    list: "reject_unknown_sender_domain",
    ctx: { sender: "s@nx.example" },
    want: "450 4.1.8 <s@nx.example>: Sender address rejected: Domain not found",
    why: "refuses an unknown sender domain",
  },
  {
    list: "reject_unknown_sender_domain",
    ctx: { sender: "s@nx.example" },
    env: { unknownAddressRejectCode: 550 },
    want: "550 5.1.8 <s@nx.example>: Sender address rejected: Domain not found",
    why: "uses unknown_address_reject_code",
  },
  {
    list: "reject_unknown_sender_domain",
    ctx: { sender: "" },
    want: "dunno",
    why: "ignores the null sender",
  },
  {
    list: "reject_unknown_sender_domain",
    ctx: { sender: "s@[192.0.2.1]" },
    want: "dunno",
    why: "skips address literals",
  },
  {
    list: "reject_unknown_sender_domain",
    ctx: { sender: "s@nx.example" },
    env: { resolveDomain: undefined },
    want: "dunno",
    why: "does nothing without DNS",
  },
  {
    list: "reject_unknown_sender_domain reject",
    ctx: { sender: "s@tmp.example" },
    want: "554 5.7.1 <alice@here.example>: Recipient address rejected: Access denied",
    why: "lets a later reject win over a DNS deferral",
  },
  {
    list: "reject_unknown_sender_domain permit",
    ctx: { sender: "s@tmp.example" },
    want: "450 4.1.8 <s@tmp.example>: Sender address rejected: Domain not found",
    why: "turns a later permit into the DNS deferral",
  },
]);

const senderTable = (value: string) => `check_sender_access inline:{{s@sender.example=${value}}}`;
const sender = "<s@sender.example>: Sender address rejected:";
table("access-map results", [
  {
    list: senderTable("REJECT"),
    want: `554 5.7.1 ${sender} Access denied`,
    why: "REJECT uses access_map_reject_code",
  },
  {
    list: senderTable("REJECT go away"),
    want: `554 5.7.1 ${sender} go away`,
    why: "REJECT text is the reason",
  },
  {
    list: senderTable("REJECT 5.1.1 no such sender"),
    want: `554 5.1.7 ${sender} no such sender`,
    why: "a recipient status is fixed for a sender",
  },
  {
    list: senderTable("DEFER"),
    want: `450 4.7.1 ${sender} Access denied`,
    why: "DEFER uses access_map_defer_code",
  },
  { list: senderTable("450 4.2.0 later"), want: `450 4.2.0 ${sender} later`, why: "4NN text is used as is" },
  { list: senderTable("550 5.7.1 spam"), want: `550 5.7.1 ${sender} spam`, why: "5NN text is used as is" },
  { list: senderTable("521 bye"), want: `521 5.7.1 ${sender} bye`, why: "5NN without status gets 5.7.1" },
  {
    list: senderTable("421 4.7.1 x"),
    want: `421 4.7.1 ${sender} x`,
    why: "keeps 421 for the caller to disconnect",
  },
  { list: senderTable("OK"), want: "permit", why: "OK permits" },
  { list: senderTable("RELAY"), want: "permit", why: "RELAY permits" },
  { list: senderTable("12345"), want: "permit", why: "an all-numeric result permits" },
  {
    list: `${senderTable("DUNNO")} reject`,
    want: "554 5.7.1 <alice@here.example>: Recipient address rejected: Access denied",
    why: "DUNNO goes on to the next restriction",
  },
  { list: `${senderTable("WARN listed")} permit`, want: "permit", why: "WARN only logs" },
  { list: `${senderTable("HOLD")} permit`, want: "permit", why: "unsupported actions are ignored" },
  {
    list: senderTable("DEFER_IF_PERMIT slow down"),
    want: `450 4.7.1 ${sender} slow down`,
    why: "DEFER_IF_PERMIT defers at the end",
  },
  {
    list: senderTable("reject_unauth_destination"),
    ctx: remote,
    want: "554 5.7.1 <u@remote.example>: Relay access denied",
    why: "a restriction name is evaluated",
  },
  {
    list: senderTable("permit_mynetworks, reject"),
    want: `554 5.7.1 ${sender} Access denied`,
    why: "a nested reject judges the table's subject",
  },
  {
    list: senderTable("permit_mynetworks, reject"),
    ctx: { clientIp: "127.0.0.1" },
    want: "permit",
    why: "a nested permit permits",
  },
  {
    list: senderTable("hash:/etc/x"),
    want: "451 4.3.5 Server configuration error",
    why: "a table inside a result is a configuration error",
  },
  {
    list: senderTable("no_such_restriction"),
    want: "451 4.3.5 Server configuration error",
    why: "an unknown name in a result is a configuration error",
  },
  {
    list: "check_client_access inline:{203.0.113=REJECT}",
    want: "554 5.7.1 <unknown[203.0.113.5]>: Client host rejected: Access denied",
    why: "matches a client network prefix",
  },
  {
    list: "check_client_access inline:{bad.example=REJECT}",
    ctx: { clientName: "mx1.bad.example" },
    want: "554 5.7.1 <mx1.bad.example[203.0.113.5]>: Client host rejected: Access denied",
    why: "matches a parent domain of the client name",
  },
  {
    list: "check_client_access fail:broken",
    want: "451 4.3.5 <unknown[203.0.113.5]>: Client host rejected: Server configuration error",
    why: "fails closed when the table fails",
  },
  {
    list: "check_helo_access inline:{{client.example=REJECT fake}}",
    want: "554 5.7.1 <client.example>: Helo command rejected: fake",
    why: "matches the HELO name",
  },
  {
    list: "check_helo_access inline:{client.example=REJECT}",
    ctx: { helo: "" },
    want: "dunno",
    why: "does nothing before HELO",
  },
  {
    list: "check_sender_access inline:{{<>=REJECT no bounces}}",
    ctx: { sender: "" },
    want: "554 5.7.1 <>: Sender address rejected: no bounces",
    why: "looks up the null sender as <>",
  },
  {
    list: "check_recipient_access inline:{{here.example=REJECT closed}}",
    want: "554 5.7.1 <alice@here.example>: Recipient address rejected: closed",
    why: "matches the recipient domain",
  },
  {
    list: "check_recipient_access inline:{here.example=OK} reject_unauth_destination",
    ctx: { recipient: "user%remote.example@here.example" },
    want: "554 5.7.1 <user%remote.example@here.example>: Relay access denied",
    why: "does not trust OK for a routed recipient",
  },
]);

const loginMaps = [
  "inline:{{s@sender.example=bob}, {@owned.example=carol dave}, {alice@here.example=alice}}",
];
const rejectedSender = (addr: string, why: string) => `553 5.7.1 <${addr}>: Sender address rejected: ${why}`;
table("sender login mismatch (smtpd_sender_login_maps)", [
  {
    list: "reject_sender_login_mismatch",
    ctx: { saslUser: "bob" },
    env: { senderLoginMaps: loginMaps },
    want: "dunno",
    why: "lets an owner send as the address",
  },
  {
    list: "reject_sender_login_mismatch",
    ctx: { saslUser: "mallory" },
    env: { senderLoginMaps: loginMaps },
    want: rejectedSender("s@sender.example", "not owned by user mallory"),
    why: "refuses another login",
  },
  {
    list: "reject_sender_login_mismatch",
    ctx: { saslUser: "dave", sender: "x@owned.example" },
    env: { senderLoginMaps: loginMaps },
    want: "dunno",
    why: "finds owners by @domain, several per entry",
  },
  {
    list: "reject_sender_login_mismatch",
    ctx: { saslUser: "bob", sender: "nobody@unowned.example" },
    env: { senderLoginMaps: loginMaps },
    want: rejectedSender("nobody@unowned.example", "not owned by user bob"),
    why: "refuses an authenticated sender for an address without owner",
  },
  {
    list: "reject_known_sender_login_mismatch",
    ctx: { saslUser: "bob", sender: "nobody@unowned.example" },
    env: { senderLoginMaps: loginMaps },
    want: "dunno",
    why: "(known) ignores addresses without owner",
  },
  {
    list: "reject_sender_login_mismatch",
    env: { senderLoginMaps: loginMaps },
    want: rejectedSender("s@sender.example", "not logged in"),
    why: "refuses an owned address from a client that did not log in",
  },
  {
    list: "reject_authenticated_sender_login_mismatch",
    env: { senderLoginMaps: loginMaps },
    want: "dunno",
    why: "(authenticated) leaves clients that did not log in alone",
  },
  {
    list: "reject_unauthenticated_sender_login_mismatch",
    ctx: { saslUser: "mallory" },
    env: { senderLoginMaps: loginMaps },
    want: "dunno",
    why: "(unauthenticated) leaves logged-in clients alone",
  },
  {
    list: "reject_sender_login_mismatch",
    ctx: { saslUser: "bob", sender: "" },
    env: { senderLoginMaps: loginMaps },
    want: "dunno",
    why: "ignores the null sender",
  },
]);
