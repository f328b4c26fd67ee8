import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CleanupClient } from "../../lib/cleanup/client.js";
import { connectIpc, type Frame, IpcConnection } from "../../lib/ipc/index.js";

let root: string;
let path: string;
let server: Server;
/** Frames of each accepted connection, until end (then the next message is collected). */
let received: Promise<Frame[]>;
let onFrames: (f: Frame[]) => void;

function expectFrames(): void {
  received = new Promise((resolve) => (onFrames = resolve));
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), "postern-ipc-"));
  path = join(root, "sock");
  server = createServer((socket: Socket) => {
    const conn = new IpcConnection(socket, { timeoutMs: 5000 });
    void (async () => {
      const frames: Frame[] = [];
      for (;;) {
        const f = await conn.next().catch(() => undefined);
        if (f === undefined) return;
        frames.push(f);
        if (f.kind === "end") {
          conn.send({ ok: true, id: "ID1", messageId: "", size: 0, nrcpt: 0 });
          onFrames(frames.splice(0));
        } else if (f.kind === "msg" && (f.msg as { op?: string }).op === "begin") {
          conn.send({ ok: true, id: "ID1" });
        }
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
});

after(() => {
  server.close();
  rmSync(root, { recursive: true, force: true });
});

function dataOf(frames: Frame[]): Buffer {
  return Buffer.concat(frames.flatMap((f) => (f.kind === "data" ? [f.chunk] : [])));
}

test("messages, data frames and a combined last chunk + end arrive in order", async () => {
  expectFrames();
  const conn = await connectIpc(path, { timeoutMs: 5000 });
  conn.send({ op: "note", text: "héllo" });
  await conn.sendData(Buffer.from("one "));
  assert.equal(conn.sendLastData(Buffer.from("two")), undefined);
  const frames = await received;
  assert.deepEqual(frames[0], { kind: "msg", msg: { op: "note", text: "héllo" } });
  assert.equal(dataOf(frames).toString(), "one two");
  assert.equal(frames.at(-1)?.kind, "end");
  assert.equal(frames.length, 4);
  conn.destroy();
});

test("a last chunk larger than one copied frame is streamed, then the end", async () => {
  expectFrames();
  const conn = await connectIpc(path, { timeoutMs: 5000 });
  const big = Buffer.alloc(300 * 1024, 0x61);
  await conn.sendLastData(big);
  const frames = await received;
  assert.equal(dataOf(frames).length, big.length);
  assert.equal(frames.at(-1)?.kind, "end");
  conn.destroy();
});

test("cleanup client: held chunks go out in order, the last one with the end", async () => {
  const client = new CleanupClient(root, 5000);
  // CleanupClient connects to queue_directory/public/cleanup.
  const { mkdirSync, symlinkSync } = await import("node:fs");
  mkdirSync(join(root, "public"), { recursive: true });
  symlinkSync(path, join(root, "public", "cleanup"));
  for (const pieces of [["a"], ["a", "b", "c"], []]) {
    expectFrames();
    const h = await client.open({ envelope: { sender: "", recipients: [], attrs: {} }, inputIsCrlf: true });
    for (const p of pieces) await h.write(Buffer.from(p));
    const r = await h.finish();
    assert.equal(r.id, "ID1");
    const frames = await received;
    assert.equal(dataOf(frames).toString(), pieces.join(""));
    // begin, the data frames (one per piece), end
    assert.equal(frames.length, 2 + pieces.length);
  }
  client.close();
});
