import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mailCapabilities } from "../../../lib/imap/engine/capability.js";
import { ImapMailEngine, type ImapOutput } from "../../../lib/imap/engine/mail-engine.js";
import { DEFAULT_FRAMER_LIMITS } from "../../../lib/imap/framer.js";
import { MailStore } from "../../../lib/mailbox/folders.js";

/** An output that takes its bytes only when the write completes, as a socket does. */
function lazyOutput(seen: string[], releasing: boolean): ImapOutput {
  const later = (bytes: Buffer) =>
    new Promise<void>((resolve) =>
      setImmediate(() => {
        seen.push(bytes.toString("latin1"));
        resolve();
      }),
    );
  return {
    write: (bytes) => later(bytes),
    ...(releasing ? { writeReleasing: (bytes: Buffer) => later(bytes) } : {}),
    end: () => undefined,
  };
}

function engine(output: ImapOutput): ImapMailEngine {
  return new ImapMailEngine(
    {
      user: "alice",
      store: new MailStore("/nonexistent/Maildir", "/"),
      settings: { separator: "/", appendLimit: 0 },
      limits: DEFAULT_FRAMER_LIMITS,
      maxBadCommands: 5,
      capabilities: mailCapabilities(0),
      idleNotifyMs: 60_000,
    },
    output,
    () => undefined,
  );
}

describe("sendWire", () => {
  for (const releasing of [true, false])
    it(`lets the caller refill its buffer once it resolves (${releasing ? "with" : "without"} writeReleasing)`, async () => {
      const seen: string[] = [];
      const e = engine(lazyOutput(seen, releasing));
      const buf = Buffer.alloc(100 * 1024);
      const sent: string[] = [];
      for (const [fill, size] of [
        [0x61, 100 * 1024],
        [0x62, 70 * 1024],
        [0x63, 10],
        [0x64, 65 * 1024],
        [0x65, 3],
      ] as const) {
        buf.fill(fill, 0, size);
        sent.push(buf.toString("latin1", 0, size));
        await e.sendWire(buf.subarray(0, size), [size]);
      }
      buf.fill(0x7a);
      await e.sendText("x\r\n");
      await (e as unknown as { flush(): Promise<void> }).flush();
      await new Promise((r) => setImmediate(r));
      assert.equal(seen.join(""), `${sent.join("")}x\r\n`);
    });
});
