/*
 * aliases — alias values (aliases(5)) and the recursive expansion of a local recipient.
 *
 * expandRecipient follows Postfix local(8): alias_maps in order (first match wins; the key is
 * the lower-cased local part, `user+ext` tried before `user`), then the user's ~/.forward
 * (forward_path, system users only), then the mailbox. :include: files are read with absolute
 * paths only. An address found in its own expansion is delivered to the mailbox ("a: a, b");
 * a longer cycle (a → b → a) ends with a clear 5.4.6 error, as does the depth limit;
 * duplicates are removed. Unmatched extensions propagate into alias and .forward results
 * (propagate_unmatched_extensions' default). allow_mail_to_commands / allow_mail_to_files
 * restrict |command and /file destinations by where they came from (alias, forward, include).
 * Privileges: alias destinations run as default_privs (the alias database is root's);
 * .forward destinations as the user; :include: destinations as the include file's owner
 * unless that is root (then default_privs) or there is a user context.
 * Talks to the alias lookup tables, the user lookup and (read-only) the file system.
 */

import { splitAddress } from "../smtp/address.js";
import {
  contentLines,
  expandTemplate,
  filterExpansion,
  type OwnedTextReader,
  readOwnedText,
} from "./alias-files.js";
import type { Privs } from "./privs.js";
import { DeliveryError, describeError } from "./status.js";
import { splitExtension, type UserInfo, type UserLookup } from "./users.js";

export type AliasTarget =
  | { readonly kind: "address"; readonly address: string }
  | { readonly kind: "command"; readonly command: string }
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "include"; readonly path: string };

/** Split on commas outside double quotes; backslash escapes inside quotes. */
function splitItems(raw: string): string[] {
  const items: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] ?? "";
    if (quoted && c === "\\" && i + 1 < raw.length) {
      current += c + (raw[++i] ?? "");
    } else if (c === '"') {
      quoted = !quoted;
      current += c;
    } else if (c === "," && !quoted) {
      items.push(current);
      current = "";
    } else {
      current += c;
    }
  }
  items.push(current);
  return items.map((s) => s.trim()).filter((s) => s !== "");
}

function unquote(item: string): string {
  if (item.length >= 2 && item.startsWith('"') && item.endsWith('"')) {
    return item.slice(1, -1).replace(/\\(.)/g, "$1");
  }
  return item;
}

/** Parse the right-hand side of an alias (or one .forward / :include: line). */
export function parseAliasValue(raw: string): AliasTarget[] {
  const targets: AliasTarget[] = [];
  for (const item of splitItems(raw)) {
    const value = unquote(item);
    if (value.startsWith("|")) {
      const command = value.slice(1).trim();
      if (command !== "") targets.push({ kind: "command", command });
    } else if (value.startsWith("/")) {
      targets.push({ kind: "file", path: value });
    } else if (value.toLowerCase().startsWith(":include:")) {
      targets.push({ kind: "include", path: value.slice(9).trim() });
    } else {
      const address = value.startsWith("<") && value.endsWith(">") ? value.slice(1, -1).trim() : value;
      if (address !== "") targets.push({ kind: "address", address });
    }
  }
  return targets;
}

/** The minimal interface of lib/maps' LookupTable this module needs. */
export interface AliasTable {
  readonly spec: string;
  lookup(key: string): Promise<string | undefined>;
}

export type ExpansionSource = "alias" | "forward" | "include";

export type Destination =
  | { readonly kind: "mailbox"; readonly user: UserInfo; readonly extension?: string }
  | {
      readonly kind: "command";
      readonly command: string;
      readonly privs: Privs;
      readonly source: ExpansionSource;
      readonly user?: UserInfo;
    }
  | {
      readonly kind: "file";
      readonly path: string;
      readonly privs: Privs;
      readonly source: ExpansionSource;
      readonly user?: UserInfo;
    }
  | { readonly kind: "forward"; readonly address: string };

export type ExpansionResult =
  | { readonly ok: true; readonly destinations: Destination[] }
  | {
      readonly ok: false;
      readonly status: "bounce" | "defer";
      readonly dsn: string;
      readonly text: string;
      readonly detail?: string;
    };

export interface ExpansionContext {
  readonly aliasMaps: readonly AliasTable[];
  readonly lookupUser: UserLookup;
  /** recipient_delimiter ("" disables extensions). */
  readonly recipientDelimiter: string;
  readonly ownerRequestSpecial?: boolean;
  /** mydestination and friends: domains whose addresses are expanded here, lower case. */
  readonly localDomains: readonly string[];
  /** forward_path templates ($home/.forward ...). */
  readonly forwardPath: readonly string[];
  readonly allowMailToCommands: readonly string[];
  readonly allowMailToFiles: readonly string[];
  /** uid/gid of default_privs. */
  readonly defaultPrivs: Privs;
  /** propagate_unmatched_extensions for alias and forward (default true). */
  readonly propagateExtensions?: boolean;
  /** Nesting limit (default 100, as Postfix's local). */
  readonly maxDepth?: number;
  /** File reader for .forward and :include: (default: readOwnedText). */
  readonly readText?: OwnedTextReader;
}

/** Where an expanded item came from, and with whose rights its commands and files run. */
interface Frame {
  readonly source: ExpansionSource;
  readonly privs: Privs;
  readonly user?: UserInfo;
  readonly extension?: string;
  /** Names being expanded, outermost first. */
  readonly stack: readonly string[];
}

function loopError(original: string, chain: readonly string[]): DeliveryError {
  return new DeliveryError("5.4.6", `mail forwarding loop for ${original}: ${chain.join(" -> ")}`);
}

function allowed(list: readonly string[], source: ExpansionSource): boolean {
  return list.some((entry) => entry.trim().toLowerCase() === source);
}

/** One expansion run: the destinations found so far and what was already expanded. */
class Expansion {
  readonly destinations: Destination[] = [];
  private readonly seen = new Set<string>();

  constructor(
    private readonly ctx: ExpansionContext,
    private readonly original: string,
  ) {}

  private split(local: string): { base: string; extension?: string } {
    return splitExtension(local, this.ctx.recipientDelimiter, this.ctx.ownerRequestSpecial ?? true);
  }

  private add(key: string, destination: Destination): void {
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.destinations.push(destination);
  }

  async address(address: string, frame: Frame, depth: number): Promise<void> {
    if (depth > (this.ctx.maxDepth ?? 100)) throw loopError(this.original, [...frame.stack, "..."]);
    const direct = address.startsWith("\\");
    const addr = direct ? address.slice(1) : address;
    // Internal form, as smtpd checked it: "alice"@localhost is alice, a quoted '@' is no split.
    const parsed = splitAddress(addr);
    const local = parsed.localPart.toLowerCase();
    const domain = parsed.domain;
    if (depth > 0 && domain !== "" && !this.ctx.localDomains.includes(domain)) {
      this.add(`forward:${addr.toLowerCase()}`, { kind: "forward", address: addr });
      return;
    }
    if (local === "") throw new DeliveryError("5.1.3", `bad address syntax: "${addr}"`);
    if (direct || local === frame.stack[frame.stack.length - 1]) return this.mailbox(local, domain);
    if (frame.stack.includes(local)) throw loopError(this.original, [...frame.stack, local]);
    if (this.seen.has(`name:${local}`)) return;
    this.seen.add(`name:${local}`);
    const inner: Frame = { ...frame, stack: [...frame.stack, local] };
    if (await this.alias(local, inner, depth)) return;
    await this.user(local, domain, inner, depth);
  }

  private async lookupAlias(key: string): Promise<string | undefined> {
    for (const table of this.ctx.aliasMaps) {
      let value: string | undefined;
      try {
        value = await table.lookup(key);
      } catch (err) {
        throw new DeliveryError(
          "4.3.0",
          "alias database unavailable",
          `${table.spec}: ${describeError(err)}`,
        );
      }
      if (value !== undefined) return value;
    }
    return undefined;
  }

  private async alias(local: string, frame: Frame, depth: number): Promise<boolean> {
    const { base, extension } = this.split(local);
    let value = await this.lookupAlias(local);
    let propagate: string | undefined;
    if (value === undefined && extension !== undefined) {
      value = await this.lookupAlias(base);
      if (this.ctx.propagateExtensions !== false) propagate = extension;
    }
    if (value === undefined) return false;
    const next: Frame = {
      source: "alias",
      privs: this.ctx.defaultPrivs,
      stack: frame.stack,
      ...(propagate !== undefined ? { extension: propagate } : {}),
    };
    await this.targets(parseAliasValue(value), next, depth);
    return true;
  }

  private async lookupUser(base: string, domain: string): Promise<UserInfo> {
    let user: UserInfo | undefined;
    try {
      user = await this.ctx.lookupUser(base, domain);
    } catch (err) {
      throw new DeliveryError("4.3.0", "user lookup error", describeError(err));
    }
    if (user === undefined) throw new DeliveryError("5.1.1", `unknown user: "${base}"`);
    return user;
  }

  private async mailbox(local: string, domain: string): Promise<void> {
    const { base, extension } = this.split(local);
    const user = await this.lookupUser(base, domain);
    this.add(`mailbox:${user.user}`, {
      kind: "mailbox",
      user,
      ...(extension !== undefined ? { extension } : {}),
    });
  }

  private async user(local: string, domain: string, frame: Frame, depth: number): Promise<void> {
    const { base, extension } = this.split(local);
    const user = await this.lookupUser(base, domain);
    if (user.kind === "system" && (await this.forward(user, { local, domain, extension }, frame, depth)))
      return;
    this.add(`mailbox:${user.user}`, {
      kind: "mailbox",
      user,
      ...(extension !== undefined ? { extension } : {}),
    });
  }

  /** Expand the first ~/.forward found; false when there is none or it is empty (→ mailbox). */
  private async forward(
    user: UserInfo,
    rcpt: { local: string; domain: string; extension: string | undefined },
    frame: Frame,
    depth: number,
  ): Promise<boolean> {
    const vars = {
      home: user.home,
      user: user.user,
      shell: user.shell,
      local: filterExpansion(rcpt.local),
      domain: filterExpansion(rcpt.domain),
      extension: rcpt.extension === undefined ? undefined : filterExpansion(rcpt.extension),
      recipient: filterExpansion(rcpt.domain === "" ? rcpt.local : `${rcpt.local}@${rcpt.domain}`),
      recipient_delimiter: this.ctx.recipientDelimiter,
    };
    for (const template of this.ctx.forwardPath) {
      const path = expandTemplate(template, vars);
      if (path === "" || !path.startsWith("/")) continue;
      const file = await this.read(path, "forward file");
      if (file === undefined || (file.uid !== user.uid && file.uid !== 0)) continue;
      const targets = contentLines(file.text).flatMap(parseAliasValue);
      if (targets.length === 0) return false;
      const propagate = rcpt.extension !== undefined && this.ctx.propagateExtensions !== false;
      const usedExtension = template.includes("extension");
      const next: Frame = {
        source: "forward",
        privs: { uid: user.uid, gid: user.gid },
        user,
        stack: frame.stack,
        ...(propagate && !usedExtension && rcpt.extension !== undefined ? { extension: rcpt.extension } : {}),
      };
      await this.targets(targets, next, depth);
      return true;
    }
    return false;
  }

  private async read(path: string, what: string): Promise<Awaited<ReturnType<OwnedTextReader>>> {
    try {
      return await (this.ctx.readText ?? readOwnedText)(path);
    } catch (err) {
      throw new DeliveryError("4.3.0", `cannot open ${what} ${path}: ${describeError(err)}`);
    }
  }

  private withExtension(address: string, extension: string | undefined): string {
    const delimiter = this.ctx.recipientDelimiter[0];
    if (extension === undefined || delimiter === undefined) return address;
    const at = address.lastIndexOf("@");
    const local = at < 0 ? address : address.slice(0, at);
    if (this.split(local.replace(/^\\/, "")).extension !== undefined) return address;
    return `${local}${delimiter}${extension}${at < 0 ? "" : address.slice(at)}`;
  }

  private async targets(targets: readonly AliasTarget[], frame: Frame, depth: number): Promise<void> {
    for (const t of targets) {
      if (t.kind === "address") {
        await this.address(this.withExtension(t.address, frame.extension), frame, depth + 1);
      } else if (t.kind === "include") {
        await this.include(t.path, frame, depth + 1);
      } else if (t.kind === "command") {
        if (!allowed(this.ctx.allowMailToCommands, frame.source)) {
          throw new DeliveryError("5.7.1", "mail to command is restricted");
        }
        const user = frame.user !== undefined ? { user: frame.user } : {};
        const dest = {
          kind: "command",
          command: t.command,
          privs: frame.privs,
          source: frame.source,
          ...user,
        } as const;
        this.add(`command:${t.command}`, dest);
      } else {
        if (!allowed(this.ctx.allowMailToFiles, frame.source)) {
          throw new DeliveryError("5.7.1", "mail to file is restricted");
        }
        const user = frame.user !== undefined ? { user: frame.user } : {};
        this.add(`file:${t.path}`, {
          kind: "file",
          path: t.path,
          privs: frame.privs,
          source: frame.source,
          ...user,
        });
      }
    }
  }

  private async include(path: string, frame: Frame, depth: number): Promise<void> {
    if (!path.startsWith("/"))
      throw new DeliveryError("5.3.5", `:include: file ${path} is not an absolute path`);
    const key = `:include:${path}`;
    if (frame.stack.includes(key)) throw loopError(this.original, [...frame.stack, key]);
    if (depth > (this.ctx.maxDepth ?? 100)) throw loopError(this.original, [...frame.stack, key]);
    const file = await this.read(path, "include file");
    if (file === undefined)
      throw new DeliveryError("5.3.0", `cannot open include file ${path}: No such file or directory`);
    if (frame.user !== undefined && file.uid !== frame.user.uid && (file.mode & 0o004) === 0) {
      throw new DeliveryError("5.3.0", `cannot open include file ${path}: Permission denied`);
    }
    const privs =
      frame.user !== undefined
        ? frame.privs
        : file.uid !== 0
          ? { uid: file.uid, gid: file.gid }
          : this.ctx.defaultPrivs;
    const next: Frame = { ...frame, source: "include", privs, stack: [...frame.stack, key] };
    await this.targets(contentLines(file.text).flatMap(parseAliasValue), next, depth);
  }
}

/**
 * Expand one local recipient into its final destinations, or the error that stops delivery.
 * `recipient` is the envelope address (local@domain, or a bare local part).
 */
export async function expandRecipient(recipient: string, ctx: ExpansionContext): Promise<ExpansionResult> {
  const run = new Expansion(ctx, recipient);
  const top: Frame = { source: "alias", privs: ctx.defaultPrivs, stack: [] };
  try {
    await run.address(recipient, top, 0);
    return { ok: true, destinations: run.destinations };
  } catch (err) {
    if (err instanceof DeliveryError) {
      const detail = err.detail !== undefined ? { detail: err.detail } : {};
      return {
        ok: false,
        status: err.temporary ? "defer" : "bounce",
        dsn: err.dsn,
        text: err.message,
        ...detail,
      };
    }
    return {
      ok: false,
      status: "defer",
      dsn: "4.3.0",
      text: "internal error during alias expansion",
      detail: describeError(err),
    };
  }
}
