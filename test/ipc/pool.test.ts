/*
 * IpcPool: keeps as many idle connections as were in use at once (up to max), closes those
 * beyond `keep` once they waited idleMs, and hands out the most recently used first.
 * Against a real Unix-domain socket server that counts the connections it accepts.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { IpcConnection } from "../../lib/ipc/index.js";
import { IpcPool } from "../../lib/ipc/pool.js";

let root: string;
let path: string;
let server: Server;
let accepted = 0;
const open = new Set<Socket>();

before(async () => {
  root = mkdtempSync(join(tmpdir(), "postern-pool-"));
  path = join(root, "sock");
  server = createServer((socket) => {
    accepted++;
    open.add(socket);
    socket.on("close", () => open.delete(socket));
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
});

after(async () => {
  for (const s of open) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(root, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await sleep(10);
  assert.ok(ok(), what);
}

async function takeMany(pool: IpcPool, n: number): Promise<IpcConnection[]> {
  return Promise.all(Array.from({ length: n }, () => pool.take()));
}

test("a burst's connections all stay for the next burst: no new connection is opened", async () => {
  const pool = new IpcPool(path, 5000, { keep: 2, idleMs: 60_000 });
  const before = accepted;
  const first = await takeMany(pool, 20);
  await until("the server accepted the first burst", () => accepted - before === 20);
  for (const c of first) pool.give(c);
  assert.equal(pool.size, 20);
  const second = await takeMany(pool, 20);
  await sleep(50);
  assert.equal(accepted - before, 20, "the second burst reused the first one's connections");
  assert.deepEqual(new Set(second), new Set(first));
  for (const c of second) pool.give(c);
  pool.close();
  await until("the server saw every connection close", () => open.size === 0);
});

test("idle connections beyond keep close after idleMs; keep of them stay, the most recent", async () => {
  const pool = new IpcPool(path, 5000, { keep: 3, idleMs: 150 });
  const conns = await takeMany(pool, 10);
  for (const c of conns) pool.give(c);
  assert.equal(pool.size, 10);
  await until("the pool is back to keep", () => pool.size === 3);
  await until("the server saw the others close", () => open.size === 3);
  const kept = await takeMany(pool, 3);
  assert.deepEqual(new Set(kept), new Set(conns.slice(7)), "the last given back are kept");
  for (const c of kept) pool.give(c);
  await sleep(300);
  assert.equal(pool.size, 3, "keep stays however long it waits");
  pool.close();
  await until("closed", () => open.size === 0);
});

test("take hands out the most recently given connection, and skips closed ones", async () => {
  const pool = new IpcPool(path, 5000, { keep: 8 });
  const [a, b, c] = await takeMany(pool, 3);
  assert.ok(a && b && c);
  pool.give(a);
  pool.give(b);
  pool.give(c);
  assert.equal(await pool.take(), c);
  b.destroy();
  await until("b is closed", () => b.closed);
  assert.equal(await pool.take(), a, "the closed one is passed over");
  pool.give(a);
  pool.give(c);
  pool.close();
  await until("closed", () => open.size === 0);
});

test("no more than max idle connections are kept: the rest close when given back", async () => {
  const pool = new IpcPool(path, 5000, { keep: 1, max: 4, idleMs: 60_000 });
  const conns = await takeMany(pool, 6);
  for (const c of conns) pool.give(c);
  assert.equal(pool.size, 4);
  await until("the last two were closed", () => Boolean(conns[4]?.closed && conns[5]?.closed));
  assert.ok(!conns[3]?.closed);
  pool.close();
  await until("closed", () => open.size === 0);
});
