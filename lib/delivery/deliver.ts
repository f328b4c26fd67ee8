/*
 * deliver — local delivery of one message to one recipient: the entry point the local daemon calls.
 *
 * Order as Postfix local(8): Delivered-To loop check (bounce 5.4.6), alias/.forward/:include:
 * expansion, then each destination: mailbox (mailbox_command, else Maildir or mbox from
 * mail_location / home_mailbox / mail_spool_directory), |command, /file; non-local addresses
 * are returned as `forwards` for the daemon to re-submit through cleanup (with
 * `forwardHeaders` prepended). Outcome texts are the ones local(8) logs ("delivered to
 * maildir", "delivered to mailbox", "delivered to command: ...", "delivered to file: ...").
 * Several destinations: a deferral wins over a bounce, a bounce over success; like Postfix
 * this may deliver twice to destinations that succeeded when the recipient is retried.
 * Never loses mail: any unexpected error becomes a deferral with a generic text and the
 * detail for the maillog.
 * Privileges: as root, mailbox files are created for the recipient and commands run as the
 * recipient (default_privs for aliases and for uid 0); unprivileged (dev sandbox), everything
 * runs as the current user and chown/setuid are skipped.
 */
import { dirname } from "node:path";
import { Readable } from "node:stream";
import { type AliasTable, type Destination, expandRecipient } from "./aliases.js";
import { fromLine, type MessageContent } from "./content.js";
import { hasDeliveredTo, traceHeaders } from "./headers.js";
import { deliverToMaildir, makeDirs } from "./maildir.js";
import { deliverToMbox } from "./mbox.js";
import { commandEnvironment, deliverToCommand, deliverToFile } from "./pipe.js";
import { ownerFor, type Privs } from "./privs.js";
import { DeliveryError, describeError, mailboxError } from "./status.js";
import { mailboxLocation, splitExtension, type UserInfo, type UserLookup } from "./users.js";

export interface LocalDeliveryRequest {
  readonly queueId: string;
  readonly sender: string;
  readonly recipient: string;
  readonly originalRecipient?: string;
  readonly arrival: Date;
  /** Unique to this recipient of this queued message: makes Maildir delivery repeatable without duplicates. */
  readonly deliveryId?: string;
  /** Opens the message content (headers + body, LF endings) afresh; called once per destination. */
  readonly openContent: () => NodeJS.ReadableStream;
  /**
   * The whole content in one Buffer, or undefined when the message is too large to hold in
   * memory. When given, it is called once and every destination is served from the buffer
   * instead of opening streams (a read stream costs several thread-pool round trips).
   */
  readonly readContent?: () => Buffer | undefined;
}

/** A request whose small content has been read into memory. */
interface LoadedRequest extends LocalDeliveryRequest {
  readonly content?: Buffer;
}

/** The content to hand one destination: the buffer when loaded, else a fresh stream. */
function contentOf(req: LoadedRequest): MessageContent {
  return req.content ?? req.openContent();
}

/** Read small content once; openContent then streams the buffer (recipes, forwarding). */
function loadContent(req: LocalDeliveryRequest): LoadedRequest {
  const content = req.readContent?.();
  if (content === undefined) return req;
  return { ...req, content, openContent: () => Readable.from([content]) };
}

/** default_privs resolved to an account. */
export interface DefaultPrivs extends Privs {
  readonly home: string;
}

/** The main.cf values local delivery needs, already converted. */
export interface LocalDeliveryConfig {
  /** mydestination (and other local domains), lower case. */
  readonly localDomains: readonly string[];
  readonly recipientDelimiter: string;
  readonly ownerRequestSpecial: boolean;
  readonly mailLocation: string;
  readonly homeMailbox: string;
  readonly mailSpoolDirectory: string;
  readonly mailboxCommand: string;
  readonly forwardPath: readonly string[];
  readonly allowMailToCommands: readonly string[];
  readonly allowMailToFiles: readonly string[];
  readonly defaultPrivs: DefaultPrivs;
  /** command_time_limit, seconds. */
  readonly commandTimeLimit: number;
  /** mailbox_size_limit, bytes (0: none). */
  readonly mailboxSizeLimit: number;
  /** prepend_delivered_header: command, file, forward. */
  readonly prependDeliveredHeader: readonly string[];
  /** Mailbox lock wait (default 20 s). */
  readonly lockTimeoutMs?: number;
  /** Host name for Maildir file names (default os.hostname()). */
  readonly hostname?: string;
  /**
   * Recipe filtering of mailbox deliveries (procmail-compatible, lib/local/recipes.ts):
   * an outcome when recipes handled the message, undefined to deliver to the mailbox as usual.
   */
  readonly recipes?: (
    user: UserInfo,
    extension: string | undefined,
    req: LocalDeliveryRequest,
  ) => Promise<DestinationOutcome | undefined>;
}

export interface LocalDeliveryDeps {
  readonly aliasMaps: readonly AliasTable[];
  readonly lookupUser: UserLookup;
}

export interface DestinationOutcome {
  readonly destination: string;
  readonly status: "sent" | "bounced" | "deferred";
  readonly dsn: string;
  readonly text: string;
  readonly detail?: string;
}

export type DeliveryOutcome = {
  readonly status: "sent" | "bounced" | "deferred";
  readonly dsn: string;
  readonly text: string;
  /** Non-local addresses the recipient expanded to, for re-submission. */
  readonly forwards?: string[];
  /** Header text to prepend to forwarded copies (Delivered-To), possibly empty. */
  readonly forwardHeaders?: string;
  /** Per-destination results, for the maillog. */
  readonly deliveries?: DestinationOutcome[];
  /** Internal detail for the maillog only. */
  readonly detail?: string;
};

const SEVERITY = { sent: 0, bounced: 1, deferred: 2 } as const;

/** Deliver one queued message to one local recipient. */
export async function deliverLocal(
  request: LocalDeliveryRequest,
  cfg: LocalDeliveryConfig,
  deps: LocalDeliveryDeps,
): Promise<DeliveryOutcome> {
  try {
    const req = loadContent(request);
    const deliveredTo = req.recipient.toLowerCase();
    if (await hasDeliveredTo(contentOf(req), deliveredTo)) {
      return { status: "bounced", dsn: "5.4.6", text: `mail forwarding loop for ${req.recipient}` };
    }
    const expansion = await expandRecipient(req.recipient, {
      aliasMaps: deps.aliasMaps,
      lookupUser: deps.lookupUser,
      recipientDelimiter: cfg.recipientDelimiter,
      ownerRequestSpecial: cfg.ownerRequestSpecial,
      localDomains: cfg.localDomains,
      forwardPath: cfg.forwardPath,
      allowMailToCommands: cfg.allowMailToCommands,
      allowMailToFiles: cfg.allowMailToFiles,
      defaultPrivs: cfg.defaultPrivs,
    });
    if (!expansion.ok) {
      const { dsn, text } = expansion;
      const detail = expansion.detail !== undefined ? { detail: expansion.detail } : {};
      return { status: expansion.status === "bounce" ? "bounced" : "deferred", dsn, text, ...detail };
    }
    return await deliverAll(expansion.destinations, req, cfg);
  } catch (err) {
    return {
      status: "deferred",
      dsn: "4.3.0",
      text: "local delivery failed: internal error",
      detail: describeError(err),
    };
  }
}

async function deliverAll(
  destinations: readonly Destination[],
  req: LoadedRequest,
  cfg: LocalDeliveryConfig,
): Promise<DeliveryOutcome> {
  const forwards: string[] = [];
  const deliveries: DestinationOutcome[] = [];
  for (const d of destinations) {
    if (d.kind === "forward") forwards.push(d.address);
    else deliveries.push(await deliverOne(d, req, cfg));
  }
  const forwardPart =
    forwards.length > 0
      ? {
          forwards,
          forwardHeaders: cfg.prependDeliveredHeader.includes("forward")
            ? traceHeaders({
                sender: req.sender,
                deliveredTo: req.recipient.toLowerCase(),
                returnPath: false,
              })
            : "",
        }
      : {};
  const worst = deliveries.reduce<DestinationOutcome | undefined>(
    (w, o) => (w === undefined || SEVERITY[o.status] > SEVERITY[w.status] ? o : w),
    undefined,
  );
  if (worst === undefined) {
    return {
      status: "sent",
      dsn: "2.0.0",
      text: `forwarded to ${forwards.join(", ")}`,
      ...forwardPart,
      deliveries,
    };
  }
  const text = worst.status === "sent" ? deliveries.map((o) => o.text).join("; ") : worst.text;
  const detail = worst.detail !== undefined ? { detail: worst.detail } : {};
  return { status: worst.status, dsn: worst.dsn, text, ...forwardPart, deliveries, ...detail };
}

/** The From_ line and trace headers; Delivered-To when `delivered` says so. */
function prependFor(req: LocalDeliveryRequest, delivered: boolean, withFrom: boolean): string {
  const from = withFrom ? fromLine(req.sender, req.arrival) : "";
  return (
    from +
    traceHeaders({
      sender: req.sender,
      originalRecipient: req.originalRecipient ?? req.recipient,
      ...(delivered ? { deliveredTo: req.recipient.toLowerCase() } : {}),
    })
  );
}

function failed(destination: string, err: DeliveryError): DestinationOutcome {
  const detail = err.detail !== undefined ? { detail: err.detail } : {};
  return {
    destination,
    status: err.temporary ? "deferred" : "bounced",
    dsn: err.dsn,
    text: err.message,
    ...detail,
  };
}

/** Commands never run as root: uid 0 becomes default_privs (Postfix). */
function commandPrivs(privs: Privs, cfg: LocalDeliveryConfig): Privs {
  return privs.uid === 0 ? { uid: cfg.defaultPrivs.uid, gid: cfg.defaultPrivs.gid } : privs;
}

async function deliverOne(
  d: Destination,
  req: LoadedRequest,
  cfg: LocalDeliveryConfig,
): Promise<DestinationOutcome> {
  switch (d.kind) {
    case "mailbox":
      if (cfg.mailboxCommand !== "") {
        const privs = { uid: d.user.uid, gid: d.user.gid };
        return runCommand(cfg.mailboxCommand, { privs, user: d.user, extension: d.extension }, req, cfg);
      }
      return (await cfg.recipes?.(d.user, d.extension, req)) ?? deliverMailbox(d.user, req, cfg);
    case "command":
      return runCommand(d.command, { privs: d.privs, user: d.user, extension: undefined }, req, cfg);
    case "file":
      return deliverFile(d.path, d.privs, req, cfg);
    default:
      throw new Error(`unexpected destination ${d.kind}`);
  }
}

async function runCommand(
  command: string,
  who: { privs: Privs; user: UserInfo | undefined; extension: string | undefined },
  req: LoadedRequest,
  cfg: LocalDeliveryConfig,
): Promise<DestinationOutcome> {
  const at = req.recipient.lastIndexOf("@");
  const split = splitExtension(at < 0 ? req.recipient : req.recipient.slice(0, at), cfg.recipientDelimiter);
  const extension = who.extension ?? split.extension;
  const env = commandEnvironment({
    home: who.user?.home ?? cfg.defaultPrivs.home,
    user: who.user?.user ?? split.base.toLowerCase(),
    shell: who.user?.shell ?? "/bin/sh",
    sender: req.sender,
    recipient: req.recipient,
    ...(req.originalRecipient !== undefined ? { originalRecipient: req.originalRecipient } : {}),
    ...(extension !== undefined ? { extension } : {}),
  });
  const outcome = await deliverToCommand(command, contentOf(req), {
    prepend: prependFor(req, cfg.prependDeliveredHeader.includes("command"), true),
    env,
    timeLimitMs: cfg.commandTimeLimit * 1000,
    privs: commandPrivs(who.privs, cfg),
  });
  return { destination: `|${command}`, ...outcome };
}

async function deliverMailbox(
  user: UserInfo,
  req: LoadedRequest,
  cfg: LocalDeliveryConfig,
): Promise<DestinationOutcome> {
  const at = req.recipient.lastIndexOf("@");
  const domain = at < 0 ? "" : req.recipient.slice(at + 1).toLowerCase();
  const loc = mailboxLocation(user, { ...cfg, domain });
  if ("error" in loc)
    return failed(user.user, new DeliveryError("4.3.5", `mail system configuration error: ${loc.error}`));
  const owner = { uid: user.uid, gid: user.gid };
  const limit = cfg.mailboxSizeLimit > 0 ? { sizeLimit: cfg.mailboxSizeLimit } : {};
  const prepend = prependFor(req, true, false);
  if (loc.format === "maildir") {
    try {
      const host = cfg.hostname !== undefined ? { hostname: cfg.hostname } : {};
      const once = req.deliveryId ? { deliveryId: req.deliveryId } : {};
      await deliverToMaildir(loc.path, contentOf(req), { prepend, ...owner, ...limit, ...host, ...once });
      return { destination: loc.path, status: "sent", dsn: "2.0.0", text: "delivered to maildir" };
    } catch (err) {
      return failed(loc.path, mailboxError("maildir delivery failed: ", err));
    }
  }
  try {
    // Folders inside the home are the user's to have (mbox:~/mail/inbox); the spool must exist.
    if (user.home !== "" && loc.path.startsWith(`${user.home}/`)) {
      await makeDirs(dirname(loc.path), ownerFor(user.uid, user.gid));
    }
    const lock = cfg.lockTimeoutMs !== undefined ? { lockTimeoutMs: cfg.lockTimeoutMs } : {};
    const opts = { sender: req.sender, arrival: req.arrival, prepend, ...owner, ...limit, ...lock };
    await deliverToMbox(loc.path, contentOf(req), opts);
    return { destination: loc.path, status: "sent", dsn: "2.0.0", text: "delivered to mailbox" };
  } catch (err) {
    return failed(loc.path, mailboxError(`cannot update mailbox ${loc.path} for user ${user.user}. `, err));
  }
}

async function deliverFile(
  path: string,
  privs: Privs,
  req: LoadedRequest,
  cfg: LocalDeliveryConfig,
): Promise<DestinationOutcome> {
  const delivered = cfg.prependDeliveredHeader.includes("file");
  try {
    await deliverToFile(path, contentOf(req), {
      sender: req.sender,
      arrival: req.arrival,
      prepend: prependFor(req, delivered, false),
      privs: commandPrivs(privs, cfg),
      ...(cfg.mailboxSizeLimit > 0 ? { sizeLimit: cfg.mailboxSizeLimit } : {}),
      ...(cfg.lockTimeoutMs !== undefined ? { lockTimeoutMs: cfg.lockTimeoutMs } : {}),
    });
    return { destination: path, status: "sent", dsn: "2.0.0", text: `delivered to file: ${path}` };
  } catch (err) {
    return failed(path, mailboxError(`cannot append message to file ${path}: `, err));
  }
}
