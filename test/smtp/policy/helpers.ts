/*
 * Shared fixtures for the policy tests: a PolicyEnv with in-memory users and fake DNS,
 * a PolicyContext factory, and run() which parses a restriction list for a parameter,
 * evaluates it and renders the result as "permit", "dunno" or the reply line.
 */
import { openMap } from "../../../lib/maps/index.js";
import {
  evaluate,
  formatReply,
  type PolicyContext,
  type PolicyEnv,
  type PolicyResult,
  parseRestrictions,
} from "../../../lib/smtp/policy/index.js";

/** Partial<T> that also allows explicit undefined: "remove this default". */
export type Loose<T> = { [K in keyof T]?: T[K] | undefined };

function merge<T extends object>(base: T, over: Loose<T>): T {
  const out: Record<string, unknown> = { ...base, ...over };
  for (const [k, v] of Object.entries(out)) if (v === undefined) delete out[k];
  return out as T;
}

export const LOCAL_USERS = ["alice@here.example", "postmaster@here.example"];

export function makeEnv(over: Loose<PolicyEnv> = {}): PolicyEnv & { warnings: string[] } {
  const warnings: string[] = [];
  const base: PolicyEnv & { warnings: string[] } = {
    mynetworks: ["127.0.0.0/8", "[::1]/128", "192.168.1.0/24"],
    mydestination: ["here.example", "localhost"],
    relayDomains: ["relayed.example"],
    localRecipient: async (a) => LOCAL_USERS.includes(a.toLowerCase()),
    resolveDomain: async (d) => (d.startsWith("nx.") ? "nxdomain" : d.startsWith("tmp.") ? "tempfail" : "ok"),
    openMap: (spec) => openMap(spec),
    unknownLocalRecipientRejectCode: 550,
    timeoutMs: 500,
    onWarning: (w) => warnings.push(w),
    warnings,
  };
  return { ...merge<PolicyEnv>(base, over), warnings };
}

export function makeCtx(over: Loose<PolicyContext> = {}): PolicyContext {
  const base: PolicyContext = {
    clientIp: "203.0.113.5",
    clientName: "unknown",
    helo: "client.example",
    sender: "s@sender.example",
    recipient: "alice@here.example",
    stage: "RCPT",
  };
  return merge(base, over);
}

export function render(r: PolicyResult): string {
  return r.action === "reject" ? formatReply(r.reply) : r.action;
}

export async function run(
  list: string,
  ctx: Loose<PolicyContext> = {},
  env: Loose<PolicyEnv> = {},
  param = "smtpd_recipient_restrictions",
): Promise<string> {
  return render(await evaluate(parseRestrictions([list], param), makeCtx(ctx), makeEnv(env)));
}
