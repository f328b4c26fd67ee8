/*
 * recipes — procmail-compatible filtering in local delivery: when mailbox_command is unset,
 * recipes_enable is on and a site-wide rc file (recipes_site_rc) or the user's ~/.procmailrc
 * exists, the message goes through lib/recipes instead of straight into the mailbox, with the
 * user's mailbox as DEFAULT. The user's rc runs with the user's privileges (when postern runs
 * as root); the site rc too unless it is owned by root, as procmail treats /etc/procmailrc.
 * Exit status as procmail's: 0 delivered, 75 deferred, other sysexits bounced.
 * The user's own Maildir is created first, as local delivery would create it: procmail does
 * not create a missing parent of a Maildir, and a virtual user's home may not exist yet.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import type { DestinationOutcome, LocalDeliveryRequest } from "../delivery/deliver.js";
import { traceHeaders } from "../delivery/headers.js";
import { ensureMaildir } from "../delivery/maildir.js";
import { SYS_EXITS } from "../delivery/pipe.js";
import { ownerFor } from "../delivery/privs.js";
import { mailboxLocation, type UserInfo } from "../delivery/users.js";
import type { Logger } from "../log/index.js";
import { runRecipes } from "../recipes/index.js";

export interface RecipeSettings {
  enabled: boolean;
  siteRc: string;
  sendmail: string[];
  timeoutMs: number;
  sizeLimit: number;
  location: { mailLocation: string; homeMailbox: string; mailSpoolDirectory: string };
  log: Logger;
}

async function readAll(stream: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c as string);
    size += b.length;
    if (limit > 0 && size > limit)
      throw Object.assign(new Error("message exceeds mailbox_size_limit"), { dsn: "5.2.2" });
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

function outcome(
  status: DestinationOutcome["status"],
  dsn: string,
  text: string,
  destination: string,
): DestinationOutcome {
  return { destination, status, dsn, text };
}

export function recipesHook(s: RecipeSettings) {
  return async (
    user: UserInfo,
    extension: string | undefined,
    req: LocalDeliveryRequest,
  ): Promise<DestinationOutcome | undefined> => {
    if (!s.enabled) return undefined;
    const userRc = user.home ? join(user.home, ".procmailrc") : "";
    const hasSite = s.siteRc !== "" && existsSync(s.siteRc);
    const hasUser = userRc !== "" && existsSync(userRc);
    if (!hasSite && !hasUser) return undefined;
    const at = req.recipient.lastIndexOf("@");
    const loc = mailboxLocation(user, {
      ...s.location,
      domain: at < 0 ? "" : req.recipient.slice(at + 1).toLowerCase(),
    });
    if ("error" in loc) return undefined;
    const defaultMailbox = loc.format === "maildir" ? `${loc.path.replace(/\/+$/, "")}/` : loc.path;
    const trace = traceHeaders({
      sender: req.sender,
      originalRecipient: req.originalRecipient ?? req.recipient,
      deliveredTo: req.recipient.toLowerCase(),
    });
    let message: Buffer;
    try {
      if (loc.format === "maildir") await ensureMaildir(loc.path, ownerFor(user.uid, user.gid));
      message = Buffer.concat([Buffer.from(trace), await readAll(req.openContent(), s.sizeLimit)]);
    } catch (err) {
      const dsn = (err as { dsn?: string }).dsn ?? "4.3.0";
      return outcome(
        dsn.startsWith("5") ? "bounced" : "deferred",
        dsn,
        err instanceof Error ? err.message : String(err),
        defaultMailbox,
      );
    }
    const asUser = process.getuid?.() === 0 ? { uid: user.uid, gid: user.gid } : {};
    const siteAsRoot = hasSite && statSync(s.siteRc).uid === 0;
    const result = await runRecipes(message, {
      home: user.home,
      logname: user.user,
      ...(siteAsRoot && !hasUser ? {} : asUser),
      sender: req.sender,
      recipient: req.recipient,
      ...(extension ? { extension } : {}),
      defaultMailbox,
      sendmail: s.sendmail,
      ...(hasSite ? { siteRc: s.siteRc } : {}),
      ...(hasUser ? { userRc } : {}),
      timeoutMs: s.timeoutMs,
    });
    for (const line of result.log) s.log.warning(`${req.queueId}: recipes: ${line}`);
    const where = result.deliveredTo.join(", ") || defaultMailbox;
    if (result.exitCode === 0) return outcome("sent", "2.0.0", `delivered by recipes to ${where}`, where);
    const [dsn, text] = SYS_EXITS[result.exitCode] ?? ["4.3.0", `recipes exit status ${result.exitCode}`];
    return outcome(dsn.startsWith("4") ? "deferred" : "bounced", dsn, `recipes: ${text}`, where);
  };
}
