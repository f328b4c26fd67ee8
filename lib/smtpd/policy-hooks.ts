/*
 * policy-hooks — smtpd's restriction checks as engine hooks: which restriction lists run
 * at which command (Postfix's smtpd_delay_reject semantics: client, helo and sender
 * restrictions are applied at RCPT TO by default), the implicit reject_unlisted_recipient,
 * and local_recipient_maps lookups behind it; at MAIL FROM, the queue free-space check
 * (queue-space.ts) comes first, as in Postfix. Every table is opened once at startup, so a
 * bad restriction name or table type is a configuration error before any client connects.
 */

import { AuthClient } from "../auth/client.js";
import type { MainCf } from "../config/index.js";
import { P, type ParamDef, paramByName } from "../config/params.js";
import { type LookupTable, MapError, openMap } from "../maps/index.js";
import { splitAddress, stripExtension } from "../smtp/address.js";
import type { StageLists } from "../smtp/policy/engine.js";
import {
  buildStageLists,
  evaluate,
  evaluateAll,
  type PolicyContext,
  type PolicyEnv,
  type PolicyResult,
  parseRestrictions,
  type Restriction,
} from "../smtp/policy/index.js";
import type { SmtpEnvelope, SmtpReply, SmtpSessionInfo } from "../smtp/server-engine.js";
import { checkQueueSpace } from "./queue-space.js";
import { UserdbCache } from "./userdb-cache.js";

export interface SmtpdPolicy {
  helo(s: SmtpSessionInfo, name: string): Promise<SmtpReply | null>;
  mailFrom(s: SmtpSessionInfo, env: SmtpEnvelope): Promise<SmtpReply | null>;
  rcptTo(s: SmtpSessionInfo, env: SmtpEnvelope, rcpt: string): Promise<SmtpReply | null>;
  data(s: SmtpSessionInfo, env: SmtpEnvelope): Promise<SmtpReply | null>;
  /** Connect to the services the checks ask (auth:userdb) before the first client needs them. */
  prepare(): Promise<void>;
}

function localDomainSet(main: MainCf): Set<string> {
  return new Set(main.get(P.mydestination).map((d) => d.toLowerCase().replace(/\.$/, "")));
}

/**
 * auth:userdb — the auth service's userdb: smtpd runs as mail_owner and must not read the
 * passwd-file's hashes, so it asks whether a user exists. A temporary failure is a table
 * failure (451 4.3.0), never "unknown user".
 */
function userdbOf(main: MainCf): {
  lookup: (users: readonly string[]) => Promise<string | undefined>;
  /** What lookup would answer from the cache, without asking: undefined when not cached. */
  cached: (users: readonly string[]) => { readonly user: string | undefined } | undefined;
  prepare: () => Promise<void>;
} {
  const client = new AuthClient(main.get(P.queue_directory), main.get(P.ipc_timeout) * 1000);
  const cache = new UserdbCache();
  return {
    async lookup(names) {
      const known = cache.get(names);
      if (known !== undefined) return known.user;
      const [user = "", ...alsoTry] = names;
      const reply = await client.userdb(user, alsoTry);
      if (reply.ok) {
        cache.set(names, reply.user.user, reply.deps);
        return reply.user.user;
      }
      if (reply.temporary) throw new MapError(`auth:userdb: ${reply.reason}`);
      cache.set(names, undefined, reply.deps);
      return undefined;
    },
    cached: (names) => cache.get(names),
    prepare: () => client.prepare(),
  };
}

/** local_recipient_maps: is this address in a local domain known to any table? */
export function localRecipientLookup(main: MainCf, onWarning: (m: string) => void) {
  const domains = localDomainSet(main);
  const specs = main.get(P.local_recipient_maps);
  const userdb = userdbOf(main);
  const tables: LookupTable[] = specs.map((spec) =>
    openMap(spec, { configDir: main.configDir, onWarning, authUserdb: userdb.lookup }),
  );
  const delimiter = main.get(P.recipient_delimiter);
  const usesAuth = specs.some((spec) => spec.startsWith("auth:"));
  const prepare = () => (usesAuth ? userdb.prepare() : Promise.resolve());
  // A user auth:userdb (the first table) is known to answer from smtpd's cache: at once.
  const authFirst = specs[0]?.startsWith("auth:") === true;
  const lookup = (addr: string): boolean | "unknown-domain" | Promise<boolean | "unknown-domain"> => {
    const { localPart, domain } = splitAddress(addr);
    if (domain !== "" && !domains.has(domain)) return "unknown-domain";
    if (tables.length === 0) return true;
    const user = localPart.toLowerCase();
    const base = delimiter ? stripExtension(user, delimiter) : user;
    const keys = [...new Set([`${user}@${domain}`, `${base}@${domain}`, user, base])].filter(
      (k) => !k.endsWith("@"),
    );
    if (authFirst && userdb.cached(keys)?.user !== undefined) return true;
    return lookupTables(keys);
  };
  const lookupTables = async (keys: string[]): Promise<boolean> => {
    for (const t of tables) {
      if (t.lookupFirst) {
        if ((await t.lookupFirst(keys)) !== undefined) return true;
      } else for (const k of keys) if ((await t.lookup(k)) !== undefined) return true;
    }
    return false;
  };
  return { lookup, prepare };
}

function replyOf(r: PolicyResult): SmtpReply | null {
  return r.action === "reject"
    ? { code: r.reply.code, enhanced: r.reply.enhanced, text: r.reply.text }
    : null;
}

export function makePolicy(main: MainCf, onWarning: (m: string) => void): SmtpdPolicy {
  const open = (spec: string) => openMap(spec, { configDir: main.configDir, onWarning });
  const listParam = (param: string): string[] => {
    const def = paramByName(param);
    if (def?.kind !== "list") throw new Error(`${param}: not a list parameter`);
    return main.get(def as ParamDef<"list">);
  };
  const lists: StageLists = buildStageLists(listParam, { openMap: open });
  const unlisted: Restriction[] = main.get(P.smtpd_reject_unlisted_recipient)
    ? parseRestrictions(["reject_unlisted_recipient"], "smtpd_recipient_restrictions")
    : [];
  const delayReject = main.get(P.smtpd_delay_reject);
  const queueDir = main.get(P.queue_directory);
  const messageSizeLimit = main.get(P.message_size_limit);
  const localRecipients = localRecipientLookup(main, onWarning);
  const env: PolicyEnv = {
    mynetworks: main.get(P.mynetworks),
    mydestination: main.get(P.mydestination),
    relayDomains: main.get(P.relay_domains),
    localRecipient: localRecipients.lookup,
    openMap: open,
    unknownLocalRecipientRejectCode: main.get(P.unknown_local_recipient_reject_code),
    timeoutMs: 20_000,
    recipientDelimiter: main.get(P.recipient_delimiter),
    senderLoginMaps: main.get(P.smtpd_sender_login_maps),
    onWarning,
  };
  const ctx = (
    s: SmtpSessionInfo,
    stage: PolicyContext["stage"],
    helo: string,
    sender?: string,
    recipient?: string,
  ): PolicyContext => ({
    clientIp: s.clientIp,
    clientName: s.clientName,
    helo,
    stage,
    ...(sender !== undefined ? { sender } : {}),
    ...(recipient !== undefined ? { recipient } : {}),
    ...(s.authUser ? { saslUser: s.authUser } : {}),
  });
  return {
    async helo(s, name) {
      if (delayReject) return null;
      return replyOf(await evaluateAll([lists.client, lists.helo], ctx(s, "HELO", name), env));
    },
    async mailFrom(s, e) {
      const announced = Number(e.mailParams.SIZE ?? "0");
      const space = await checkQueueSpace(queueDir, {
        messageSizeLimit,
        ...(Number.isSafeInteger(announced) && announced > 0 ? { announcedSize: announced } : {}),
      });
      if (space !== null) {
        onWarning(space.warning);
        return space.reply;
      }
      if (delayReject) return null;
      return replyOf(
        await evaluateAll(
          [lists.client, lists.helo, lists.sender],
          ctx(s, "MAIL", e.heloName, e.sender),
          env,
        ),
      );
    },
    async rcptTo(s, e, rcpt) {
      const c = ctx(s, "RCPT", e.heloName, e.sender, rcpt);
      const chain = delayReject
        ? [lists.client, lists.helo, lists.sender, lists.relay, lists.recipient]
        : [lists.relay, lists.recipient];
      const r = await evaluateAll(chain, c, env);
      if (r.action === "reject" || unlisted.length === 0) return replyOf(r);
      return replyOf(await evaluate(unlisted, c, env));
    },
    async data(s, e) {
      return replyOf(await evaluate(lists.data, ctx(s, "DATA", e.heloName, e.sender), env));
    },
    prepare: () => localRecipients.prepare(),
  };
}
