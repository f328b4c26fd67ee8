/*
 * engine — parse and evaluate smtpd_*_restrictions lists (CONVENTIONS 15).
 *
 * parseRestrictions() turns a list parameter into Restriction values and fails on an
 * unknown name, so a typo is a configuration error at startup (buildStageLists does all
 * lists at once and, given openMap, opens every table too). evaluate() runs one list in
 * order: the first definite result (permit or reject) wins, dunno goes on, the end of the
 * list is dunno. evaluateAll() runs several lists for one SMTP command, as Postfix does
 * with smtpd_delay_reject: a permit ends only its own list, a reject ends everything.
 * defer_if_permit results are remembered and turn a later permit (or the end) into that
 * deferral; warn_if_reject makes the next restriction log its reject instead of applying it.
 * Every check that does not answer at once runs under env.timeoutMs: a check that hangs becomes
 * "451 4.3.5 Server configuration problem" and a check that throws becomes
 * "451 4.3.5 Server configuration error", with the detail sent to env.onWarning.
 * Talks to the restriction table and the injected PolicyEnv. Security: fails closed —
 * every internal error is a temporary rejection, never an accidental permit.
 */
import type { LookupTable } from "../../maps/index.js";
import { formatReply, listSubject, reject, type Subject, serverConfigError } from "./replies.js";
import { RELAY_GUARDS, RESTRICTIONS } from "./restrictions.js";
import {
  type CheckState,
  type ListName,
  PolicyConfigError,
  type PolicyContext,
  type PolicyEnv,
  type PolicyResult,
  type Restriction,
  type SmtpReply,
  type Verdict,
} from "./types.js";

/** The main.cf parameter of each restriction list. */
export const RESTRICTION_PARAMS: Readonly<Record<ListName, string>> = {
  client: "smtpd_client_restrictions",
  helo: "smtpd_helo_restrictions",
  sender: "smtpd_sender_restrictions",
  relay: "smtpd_relay_restrictions",
  recipient: "smtpd_recipient_restrictions",
  data: "smtpd_data_restrictions",
};

function listOfParam(param: string): ListName {
  const hit = Object.entries(RESTRICTION_PARAMS).find(([, p]) => p === param);
  return (hit?.[0] as ListName | undefined) ?? "recipient";
}

/** Split list text into names and arguments at commas/whitespace outside { } braces. */
export function tokenizeRestrictions(list: readonly string[]): string[] {
  const text = list.join(" ");
  const tokens: string[] = [];
  let current = "";
  let depth = 0;
  for (const ch of text) {
    if (depth === 0 && /[\s,]/.test(ch)) {
      if (current !== "") tokens.push(current);
      current = "";
      continue;
    }
    if (ch === "{") depth++;
    else if (ch === "}" && depth > 0) depth--;
    current += ch;
  }
  if (current !== "") tokens.push(current);
  return tokens;
}

function parseTokens(tokens: readonly string[], param: string, list: ListName): Restriction[] {
  const out: Restriction[] = [];
  let warnOnly = false;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? "";
    const name = token.toLowerCase();
    if (name === "warn_if_reject") {
      warnOnly = true;
      continue;
    }
    const def = RESTRICTIONS.get(name);
    if (def === undefined) throw new PolicyConfigError(param, `unknown restriction: ${token}`);
    if (def.takesMap) {
      const spec = tokens[++i];
      if (spec === undefined || !/^[a-z][a-z0-9_-]*:/i.test(spec)) {
        throw new PolicyConfigError(param, `restriction ${name} requires a type:table argument`);
      }
      out.push({ kind: "map", name, spec, list, warnOnly });
    } else {
      out.push({ kind: "simple", name, list, warnOnly });
    }
    warnOnly = false;
  }
  if (warnOnly) throw new PolicyConfigError(param, "warn_if_reject must be followed by a restriction");
  return out;
}

/** Parse one smtpd_*_restrictions parameter; throws PolicyConfigError naming it. */
export function parseRestrictions(list: string[], paramName: string): Restriction[] {
  return parseTokens(tokenizeRestrictions(list), paramName, listOfParam(paramName));
}

export type StageLists = Record<ListName, Restriction[]>;

/**
 * Parse every smtpd_*_restrictions parameter at startup. With opts.openMap, every
 * check_*_access table is opened too, so an unsupported table type fails here. Also
 * enforces Postfix's open-relay guard: smtpd_relay_restrictions or
 * smtpd_recipient_restrictions must contain reject_unauth_destination (or defer_*, reject).
 */
export function buildStageLists(
  get: (param: string) => string[],
  opts: { openMap?: (spec: string) => LookupTable } = {},
): StageLists {
  const lists = {} as StageLists;
  for (const [list, param] of Object.entries(RESTRICTION_PARAMS) as [ListName, string][]) {
    lists[list] = parseRestrictions(get(param), param);
    for (const r of lists[list]) {
      if (r.kind !== "map" || opts.openMap === undefined) continue;
      try {
        opts.openMap(r.spec);
      } catch (err) {
        throw new PolicyConfigError(
          param,
          `${r.name} ${r.spec}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
  }
  if (![...lists.relay, ...lists.recipient].some((r) => RELAY_GUARDS.has(r.name))) {
    throw new PolicyConfigError(
      `${RESTRICTION_PARAMS.relay} or ${RESTRICTION_PARAMS.recipient}`,
      "must specify at least one of reject, defer, defer_if_permit, reject_unauth_destination, defer_unauth_destination",
    );
  }
  return lists;
}

const tableCache = new WeakMap<PolicyEnv, Map<string, LookupTable>>();

function tableFor(env: PolicyEnv, spec: string): LookupTable {
  let tables = tableCache.get(env);
  if (tables === undefined) {
    tables = new Map();
    tableCache.set(env, tables);
  }
  let table = tables.get(spec);
  if (table === undefined) {
    table = env.openMap(spec);
    tables.set(spec, table);
  }
  return table;
}

const TIMEOUT = Symbol("timeout");

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T | typeof TIMEOUT> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), ms);
  });
  try {
    return await Promise.race([work, expiry]);
  } finally {
    clearTimeout(timer);
  }
}

const MAX_NESTED_DEPTH = 100;

/** One evaluation: remembers defer_if_permit across the lists of one SMTP command. */
class Evaluation {
  private pending: SmtpReply | undefined;

  constructor(
    private readonly ctx: PolicyContext,
    private readonly env: PolicyEnv,
  ) {}

  async runList(restrictions: readonly Restriction[], depth: number, subject?: Subject): Promise<Verdict> {
    for (const r of restrictions) {
      const v = await this.runOne(r, depth, subject ?? listSubject(r.list, this.ctx));
      if (v.action === "dunno") continue;
      if (r.warnOnly && v.action !== "permit") {
        this.env.onWarning?.(`reject_warning: ${r.name}: ${formatReply(v.reply)}`);
        continue;
      }
      if (v.action === "defer_if_permit") {
        this.pending ??= v.reply;
        continue;
      }
      return v;
    }
    return { action: "dunno" };
  }

  private async runOne(r: Restriction, depth: number, subject: Subject): Promise<Verdict> {
    const def = RESTRICTIONS.get(r.name);
    if (def === undefined) return serverConfigError();
    const state: CheckState = {
      ctx: this.ctx,
      env: this.env,
      list: r.list,
      subject,
      depth,
      table: (spec) => tableFor(this.env, spec),
      nested: (names, s) => this.runNested(names, r.list, depth + 1, s),
      warn: (message) => this.env.onWarning?.(message),
    };
    try {
      const work = def.takesMap ? def.check(state, r.kind === "map" ? r.spec : "") : def.check(state);
      // A check that answered at once needs no timer (most do: no table, no lookup).
      if (!(work instanceof Promise)) return work;
      const v = await withTimeout(work, this.env.timeoutMs);
      if (v !== TIMEOUT) return v;
      this.env.onWarning?.(`${r.name}: timeout after ${this.env.timeoutMs}ms`);
      return reject(451, "4.3.5", "Server configuration problem");
    } catch (err) {
      this.env.onWarning?.(
        `${r.name}${r.kind === "map" ? ` ${r.spec}` : ""}: ${err instanceof Error ? err.message : String(err)}`,
      );
      return serverConfigError();
    }
  }

  private async runNested(
    names: readonly string[],
    list: ListName,
    depth: number,
    subject: Subject,
  ): Promise<Verdict> {
    if (depth > MAX_NESTED_DEPTH) return serverConfigError();
    let parsed: Restriction[];
    try {
      parsed = parseTokens(names, `access table result "${names.join(" ")}"`, list);
    } catch (err) {
      this.env.onWarning?.(err instanceof Error ? err.message : String(err));
      return serverConfigError();
    }
    return this.runList(parsed, depth, subject);
  }

  finish(v: Verdict): PolicyResult {
    if (v.action === "reject") return v;
    if (this.pending !== undefined) return { action: "reject", reply: this.pending };
    return v.action === "permit" ? { action: "permit" } : { action: "dunno" };
  }
}

/** Evaluate one restriction list: first permit/reject wins, dunno continues, end = dunno. */
export async function evaluate(
  restrictions: Restriction[],
  ctx: PolicyContext,
  env: PolicyEnv,
): Promise<PolicyResult> {
  const run = new Evaluation(ctx, env);
  return run.finish(await run.runList(restrictions, 0));
}

/**
 * Evaluate the lists of one SMTP command in order (e.g. at RCPT with smtpd_delay_reject:
 * client, helo, sender, relay, recipient). A reject anywhere wins; a permit ends only its
 * list. Returns permit if any list permitted, dunno if none decided.
 */
export async function evaluateAll(
  lists: readonly Restriction[][],
  ctx: PolicyContext,
  env: PolicyEnv,
): Promise<PolicyResult> {
  const run = new Evaluation(ctx, env);
  let permitted = false;
  for (const list of lists) {
    const v = await run.runList(list, 0);
    if (v.action === "reject") return v;
    if (v.action === "permit") permitted = true;
  }
  return run.finish(permitted ? { action: "permit" } : { action: "dunno" });
}
