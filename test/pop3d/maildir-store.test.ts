/*
 * MaildirPop3Store under the mail engine: small messages handed over as stored and sent
 * CRLF-converted and dot-stuffed in one write, a message renamed after the snapshot still
 * found, a large one streamed; the logout statistics count CRLF octets either way.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Pop3MailEngine } from "../../lib/pop3/mail-engine.js";
import { MaildirPop3Store } from "../../lib/pop3d/store.js";
import { capture, feed } from "../pop3/harness.js";

const root = mkdtempSync(join(tmpdir(), "pop3-maildir-"));
after(() => rmSync(root, { recursive: true, force: true }));

const SMALL = "Subject: one\n\n.dot line\nplain\n..two dots\nno newline at end";
const BIG = `Subject: big\n\n${".x\nline of text\n".repeat(30_000)}`; // ~420 KB: streamed

function wire(stored: string): string {
  const crlf = stored.replace(/\r?\n/g, "\r\n");
  const body = crlf.replace(/^\./gm, "..");
  return `${body}${body.endsWith("\r\n") ? "" : "\r\n"}.\r\n`;
}

async function session(dir: string, input: string) {
  const { out, cap } = capture();
  let store: MaildirPop3Store | undefined;
  const engine = new Pop3MailEngine(
    async () => {
      store = await MaildirPop3Store.open(dir);
      return store;
    },
    { user: "u" },
    out,
  );
  await engine.start();
  await feed(engine, input, false);
  return { text: cap.text(), stats: store?.stats };
}

describe("MaildirPop3Store RETR", () => {
  const dir = join(root, "Maildir");
  for (const sub of ["cur", "new", "tmp"]) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, "new", "1.M1P1.host"), SMALL);
  writeFileSync(join(dir, "new", "2.M2P1.host"), BIG);

  it("sends small and large messages CRLF-converted and dot-stuffed, counting CRLF octets", async () => {
    const r = await session(dir, "RETR 1\r\nRETR 2\r\nQUIT\r\n");
    const small = wire(SMALL);
    const big = wire(BIG);
    const smallSize = SMALL.replace(/\n/g, "\r\n").length;
    const bigSize = BIG.replace(/\n/g, "\r\n").length;
    assert.equal(
      r.text,
      `+OK Logged in.\r\n+OK ${smallSize} octets\r\n${small}+OK ${bigSize} octets\r\n${big}+OK Logging out.\r\n`,
    );
    assert.equal(r.stats?.retr, 2);
    assert.equal(r.stats?.retrBytes, smallSize + bigSize);
  });

  it("finds a message whose flags were renamed after the snapshot", async () => {
    const { out, cap } = capture();
    const engine = new Pop3MailEngine(() => MaildirPop3Store.open(dir), { user: "u" }, out);
    await engine.start();
    const file = readdirSync(join(dir, "cur")).find((f) => f.startsWith("1.M1P1"));
    assert.ok(file !== undefined);
    renameSync(join(dir, "cur", file), join(dir, "cur", "1.M1P1.host:2,S"));
    await feed(engine, "RETR 1\r\nQUIT\r\n", false);
    assert.match(cap.text(), new RegExp(`octets\\r\\n${wire(SMALL).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
  });
});

describe("MaildirPop3Store login snapshot", () => {
  const dir = join(root, "Snapshot");
  for (const sub of ["cur", "new", "tmp"]) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, "new", "1.M1P2.host"), "Subject: a\n\none\n");
  writeFileSync(join(dir, "new", "2.M2P2.host"), "Subject: b\n\ntwo\n");
  const tick = () => new Promise((resolve) => setTimeout(resolve, 25)); // a new directory mtime
  const stat = async (input = "") => (await session(dir, `${input}STAT\r\nQUIT\r\n`)).text.split("\r\n");

  it("sees what changed since this process' previous session: delivery, DELE, another program's unlink", async () => {
    assert.equal((await stat())[1], "+OK 2 38");
    await tick();
    writeFileSync(join(dir, "new", "3.M3P2.host"), "Subject: c\n\nthree\n");
    assert.equal((await stat())[1], "+OK 3 59");
    await tick();
    assert.deepEqual(
      (await session(dir, "DELE 1\r\nQUIT\r\n")).text.split("\r\n")[2],
      "+OK Logging out, messages deleted.",
    );
    assert.equal((await stat())[1], "+OK 2 40");
    await tick();
    const victim = readdirSync(join(dir, "cur")).find((f) => f.startsWith("2.M2P2"));
    assert.ok(victim !== undefined);
    rmSync(join(dir, "cur", victim));
    assert.equal((await stat())[1], "+OK 1 21");
    // unchanged: the same snapshot again, UIDLs included
    const uidls = (await session(dir, "UIDL\r\nQUIT\r\n")).text;
    assert.equal((await session(dir, "UIDL\r\nQUIT\r\n")).text, uidls);
    assert.match(uidls, /^\+OK Logged in\.\r\n\+OK\r\n1 \S+\r\n\.\r\n/);
  });
});
