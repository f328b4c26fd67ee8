/*
 * harness — drives ImapMailEngine against a real Maildir++ store in a temp directory and
 * collects what it writes, for the engine and command tests.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mailCapabilities } from "../../../lib/imap/engine/capability.js";
import { ImapMailEngine, type ImapMailEvent } from "../../../lib/imap/engine/mail-engine.js";
import { DEFAULT_FRAMER_LIMITS } from "../../../lib/imap/framer.js";
import { MailStore } from "../../../lib/mailbox/folders.js";
import { ensureMaildir } from "../../../lib/mailbox/maildir.js";

export class EngineHarness {
  readonly root: string;
  readonly store: MailStore;
  readonly events: ImapMailEvent[] = [];
  engine: ImapMailEngine;
  private out: Buffer[] = [];
  ended = false;

  private constructor(readonly dir: string) {
    this.root = join(dir, "Maildir");
    this.store = new MailStore(this.root, "/");
    this.engine = this.newEngine();
  }

  static async create(): Promise<EngineHarness> {
    const h = new EngineHarness(mkdtempSync(join(tmpdir(), "postern-imap-")));
    await ensureMaildir(h.root);
    return h;
  }

  newEngine(): ImapMailEngine {
    return new ImapMailEngine(
      {
        user: "alice",
        store: this.store,
        settings: { separator: "/", appendLimit: 1_000_000 },
        limits: { ...DEFAULT_FRAMER_LIMITS, maxLiteralSize: 1_000_000 },
        maxBadCommands: 5,
        capabilities: mailCapabilities(1_000_000),
        idleNotifyMs: 60_000,
      },
      {
        write: (b) => {
          this.out.push(Buffer.from(b));
        },
        end: () => {
          this.ended = true;
        },
      },
      (e) => this.events.push(e),
    );
  }

  /** A second session on the same store, logged in. */
  async second(): Promise<EngineHarness> {
    const other = new EngineHarness(this.dir);
    await other.engine.start(null, Buffer.alloc(0));
    await other.take();
    return other;
  }

  async settle(): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      await this.engine.idle();
      await new Promise((r) => setImmediate(r));
      if (!this.engine.busy) return;
    }
  }

  /** Send lines (CRLF added) and return everything written meanwhile. */
  async send(text: string): Promise<string> {
    this.engine.push(Buffer.from(text.endsWith("\r\n") ? text : `${text}\r\n`));
    return this.take();
  }

  async take(): Promise<string> {
    await this.settle();
    const text = Buffer.concat(this.out).toString("latin1");
    this.out = [];
    return text;
  }

  destroy(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
