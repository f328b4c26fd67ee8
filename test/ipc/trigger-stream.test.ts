/*
 * TriggerStream against a listening Unix socket standing in for public/qmgr: letters of
 * several wake-ups go on one lasting connection; a connection its reader ends is made anew
 * on the next wake-up, and its loss is reported once (the caller then wakes qmgr through
 * master); a socket that cannot be reached is reported too.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { TriggerStream } from "../../lib/ipc/trigger-stream.js";

let root: string;
let path: string;
let server: Server;
const accepted: { socket: Socket; text: string }[] = [];

async function until(probe: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (probe()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timeout waiting for ${what}`);
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), "postern-trigger-"));
  path = join(root, "qmgr");
  server = createServer((socket) => {
    const conn = { socket, text: "" };
    accepted.push(conn);
    socket.on("data", (d) => (conn.text += d.toString("latin1")));
  });
  await new Promise<void>((r) => server.listen(path, r));
});

after(() => {
  server.close();
  rmSync(root, { recursive: true, force: true });
});

test("wake-ups share one lasting connection; an ended one is made anew and its loss reported", async () => {
  let lost = 0;
  const stream = new TriggerStream(path, () => lost++);
  stream.send("I");
  stream.send("I");
  await until(() => accepted[0]?.text === "II", "both letters on the first connection");
  stream.send("I");
  await until(() => accepted[0]?.text === "III", "a third on the same one");
  assert.equal(accepted.length, 1);
  // The reader ends it (master does, after the first letters; a qmgr that exits closes it).
  accepted[0]?.socket.end();
  await until(() => lost === 1, "the loss reported");
  stream.send("I");
  await until(() => accepted[1]?.text === "I", "the next wake-up on a new connection");
  assert.equal(lost, 1, "reported once");
  stream.close();
});

test("a trigger socket that cannot be reached is reported as a loss", async () => {
  let lost = 0;
  const stream = new TriggerStream(join(root, "absent"), () => lost++);
  stream.send("I");
  await until(() => lost === 1, "the failed connection reported");
});

test("a connection with nothing written on it is not reported when it ends", async () => {
  let lost = 0;
  const before = accepted.length;
  const stream = new TriggerStream(path, () => lost++);
  stream.send("I");
  await until(() => accepted.length === before + 1 && accepted[before]?.text === "I", "a connection");
  stream.close();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(lost, 0, "closed by its owner: nothing to report");
});
