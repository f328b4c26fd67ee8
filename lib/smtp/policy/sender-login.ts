/*
 * sender-login — reject_sender_login_mismatch and its variants (Postfix's semantics):
 * smtpd_sender_login_maps says which SASL login names own a MAIL FROM address.
 *   authenticated    the client logged in and the address has no owner, or not this one:
 *                    553 5.7.1 <addr>: Sender address rejected: not owned by user NAME
 *   unauthenticated  the client did not log in and the address has an owner:
 *                    553 5.7.1 <addr>: Sender address rejected: not logged in
 *   known            as authenticated, but only for addresses that have an owner
 *   both             authenticated + unauthenticated (reject_sender_login_mismatch)
 * Lookup order (Postfix's mail_addr_find): user+ext@domain, user@domain, then the local part
 * alone when the domain is ours, then @domain. A result lists owners separated by commas or
 * spaces. A table that fails gives 451 4.3.5, as any broken table does.
 * Security: the address is the client's, the owners the operator's.
 */
import { classifyAddress, splitAddress, stripExtension } from "../address.js";
import { CLASS_SENDER, rejectSubject } from "./replies.js";
import type { CheckState, Verdict } from "./types.js";

type Mode = "both" | "authenticated" | "unauthenticated" | "known";

function loginKeys(state: CheckState, addr: string): string[] {
  const { localPart, domain } = splitAddress(addr);
  const local = localPart.toLowerCase();
  const bare = stripExtension(local, state.env.recipientDelimiter ?? "");
  const keys = domain === "" ? [local] : [`${local}@${domain}`];
  if (bare !== local && domain !== "") keys.push(`${bare}@${domain}`);
  const ours =
    domain === "" ||
    classifyAddress(addr, {
      mydestination: state.env.mydestination,
      relayDomains: [],
      myAddresses: state.env.myAddresses ?? [],
    }).kind === "local";
  if (ours && domain !== "") keys.push(local, ...(bare !== local ? [bare] : []));
  if (domain !== "") keys.push(`@${domain}`);
  return keys;
}

async function owners(state: CheckState, addr: string): Promise<string[] | undefined> {
  for (const spec of state.env.senderLoginMaps ?? []) {
    const table = state.table(spec);
    for (const key of loginKeys(state, addr)) {
      const value = await table.lookup(key);
      if (value !== undefined) return value.split(/[\s,]+/).filter((v) => v !== "");
    }
  }
  return undefined;
}

export async function senderLoginMismatch(state: CheckState, addr: string, mode: Mode): Promise<Verdict> {
  const subject = { name: addr, klass: CLASS_SENDER };
  const user = state.ctx.saslUser;
  const owned = await owners(state, addr);
  if (user !== undefined && user !== "") {
    if (mode === "unauthenticated") return { action: "dunno" };
    if (owned === undefined && mode === "known") return { action: "dunno" };
    const mine = owned?.some((o) => o.toLowerCase() === user.toLowerCase()) === true;
    return mine ? { action: "dunno" } : rejectSubject(553, "5.7.1", subject, `not owned by user ${user}`);
  }
  if (mode === "authenticated" || mode === "known" || owned === undefined) return { action: "dunno" };
  return rejectSubject(553, "5.7.1", subject, "not logged in");
}
