/*
 * pickup — moves locally submitted mail from queue_directory/maildrop to cleanup
 * (Postfix's pickup(8)).
 *
 * Woken by `postern sendmail` through public/pickup and by master's timer (every 60 s in
 * master.cf), and once at start, it scans maildrop (temporary ".ID.tmp" files are not
 * complete and are skipped by the scan), and for each file: claims it, verifies it
 * (claim.ts), hands envelope and content to cleanup (no Received info, so cleanup writes
 * the local form "by host (Postern, from userid N)" and adds missing headers), logs
 * "NEWID: uid=N from=<sender>" as Postfix's pickup does, and removes the file only after
 * cleanup has answered. Files that cannot be trusted go to corrupt/ with a warning; when
 * cleanup is unavailable the file goes back to maildrop and the scan ends until the next
 * wake-up. Wake-ups during a scan cause one more scan after it.
 *
 * Talks to: maildrop and the claim directory (claim.ts), cleanup (CleanupClient),
 * maillog. Security: runs as mail_owner; file contents are untrusted user input; the
 * user is whoever owns the file.
 */
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { type CleanupClient, CleanupError } from "../cleanup/client.js";
import { errorText, type Logger } from "../log/index.js";
import { openContent, scanQueue } from "../queue/index.js";
import {
  claim,
  claimDirectory,
  claimedToCorrupt,
  ensureClaimDirectory,
  errnoOf,
  leftoverClaims,
  queuedMaildropIds,
  unclaim,
  verifyClaimed,
} from "./claim.js";

export interface PickupDeps {
  queueDir: string;
  log: Logger;
  /** Only open() is used, so tests can pass a stand-in. */
  cleanup: Pick<CleanupClient, "open">;
  /** Called when a scan ends and nothing is pending (lets the skeleton start its idle timer). */
  onIdle?: () => void;
}

/** What happened to one file: go on with the next, or stop this scan (cleanup is down). */
type FileOutcome = "done" | "stop";

export class Pickup {
  readonly #deps: PickupDeps;
  #scan: Promise<void> | null = null;
  #again = false;
  #stopped = false;

  constructor(deps: PickupDeps) {
    this.#deps = deps;
  }

  /** True while a scan is running. */
  get busy(): boolean {
    return this.#scan !== null;
  }

  /** Prepare the claim directory, finish what a previous pickup left, then scan. */
  async start(): Promise<void> {
    await ensureClaimDirectory(this.#deps.queueDir);
    await this.#recover();
    this.wakeup();
  }

  /** Scan maildrop now, or right after the scan that is running. */
  wakeup(): void {
    if (this.#stopped) return;
    if (this.#scan !== null) {
      this.#again = true;
      return;
    }
    this.#scan = this.#scanLoop().finally(() => {
      this.#scan = null;
      this.#deps.onIdle?.();
    });
  }

  /** Stop scanning; resolves when the file in hand is finished. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#scan;
  }

  async #scanLoop(): Promise<void> {
    do {
      this.#again = false;
      try {
        await this.#scanOnce();
      } catch (err) {
        this.#deps.log.warning(`maildrop scan: ${errorText(err)}`);
      }
    } while (this.#again && !this.#stopped);
  }

  async #scanOnce(): Promise<void> {
    const { queueDir } = this.#deps;
    for await (const id of scanQueue(queueDir, "maildrop")) {
      if (this.#stopped) return;
      if (!(await claim(queueDir, id))) continue;
      if ((await this.#handle(id)) === "stop") return;
    }
  }

  /** Files claimed by a pickup that died: drop those already queued, submit the rest. */
  async #recover(): Promise<void> {
    const { queueDir, log } = this.#deps;
    const leftovers = await leftoverClaims(queueDir);
    if (leftovers.length === 0) return;
    const queued = await queuedMaildropIds(queueDir);
    for (const id of leftovers) {
      const copy = queued.get(id);
      if (copy !== undefined) {
        log.info(`${copy}: maildrop file ${id} was already queued; removed`);
        await unlink(join(claimDirectory(queueDir), id));
      } else if ((await this.#handle(id)) === "stop") return;
    }
  }

  /** Verify one claimed file and pass it to cleanup. */
  async #handle(id: string): Promise<FileOutcome> {
    const { queueDir, log } = this.#deps;
    let verified: Awaited<ReturnType<typeof verifyClaimed>>;
    try {
      verified = await verifyClaimed(queueDir, id);
    } catch (err) {
      if (errnoOf(err) === "ENOENT") return "done";
      verified = { ok: false, reason: errorText(err) };
    }
    if (!verified.ok) {
      const who = verified.uid === undefined ? "" : ` uid=${verified.uid}:`;
      log.warning(`maildrop/${id}:${who} ${verified.reason}; moved to corrupt`);
      await claimedToCorrupt(queueDir, id);
      return "done";
    }
    return this.#submit(id, verified);
  }

  async #submit(
    id: string,
    v: Extract<Awaited<ReturnType<typeof verifyClaimed>>, { ok: true }>,
  ): Promise<FileOutcome> {
    const { queueDir, log, cleanup } = this.#deps;
    try {
      const handle = await cleanup.open({ envelope: v.envelope, inputIsCrlf: false });
      log.info(`${handle.id}: uid=${v.uid} from=<${v.envelope.sender}>`);
      try {
        for await (const chunk of openContent(v.info)) await handle.write(chunk as Buffer);
      } catch (err) {
        await handle.abort();
        throw err;
      }
      await handle.finish();
    } catch (err) {
      return this.#failed(id, err);
    }
    await unlink(join(claimDirectory(queueDir), id));
    return "done";
  }

  async #failed(id: string, err: unknown): Promise<FileOutcome> {
    const { queueDir, log } = this.#deps;
    if (err instanceof CleanupError && err.code >= 500) {
      log.warning(
        `maildrop/${id}: cleanup refused it: ${err.code} ${err.enhanced} ${err.message}; moved to corrupt`,
      );
      await claimedToCorrupt(queueDir, id);
      return "done";
    }
    const detail =
      err instanceof CleanupError && err.detail ? `${err.message} (${err.detail})` : errorText(err);
    log.warning(`maildrop/${id}: cannot hand over to cleanup: ${detail}; will try again`);
    await unclaim(queueDir, id);
    return "stop";
  }
}
