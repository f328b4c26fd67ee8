/*
 * The pop3 daemon's socket output: replies gathered while corked leave in one write, in
 * order, whether written or built in place (slot); a buffer the socket still holds (a slow
 * client) is never written into again; the lazily re-armed idle timer fires only after
 * that long without activity.
 */
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { test } from "node:test";
import { idleTimer, socketOutput } from "../../lib/pop3d/session.js";

/** A socket that records writes; `queued` bytes stay "in the kernel's way" until drain(). */
class FakeSocket extends EventEmitter {
  destroyed = false;
  writableLength = 0;
  stall = false;
  readonly writes: Buffer[] = [];
  /** The bytes of each write as they were when written (to catch later changes). */
  readonly copies: Buffer[] = [];
  write(b: Buffer): boolean {
    this.writes.push(b);
    this.copies.push(Buffer.from(b));
    if (this.stall) this.writableLength += b.length;
    return b.length < 16384 && !this.stall;
  }
  drain(): void {
    this.writableLength = 0;
    this.emit("drain");
  }
  end(): void {}
}

const fill = (buf: Buffer | undefined, text: string) => {
  assert.ok(buf);
  buf.write(text, "latin1");
};

test("corked replies, written or built in place, leave in one write in order", () => {
  const sock = new FakeSocket();
  const out = socketOutput(sock as unknown as Socket, () => undefined);
  out.write(Buffer.from("uncorked\r\n"));
  out.cork?.();
  out.write(Buffer.from("+OK one\r\n"));
  fill(out.slot?.(9), "+OK two\r\n");
  out.write(Buffer.from("+OK three\r\n"));
  assert.equal(sock.writes.length, 1);
  assert.equal(out.uncork?.(), undefined);
  assert.deepEqual(
    sock.writes.map((w) => w.toString("latin1")),
    ["uncorked\r\n", "+OK one\r\n+OK two\r\n+OK three\r\n"],
  );
  assert.equal(out.slot?.(3), undefined, "no slot while uncorked");
});

test("a batch over 64 KiB is split in order, and a reply bigger than a batch is written as is", () => {
  const sock = new FakeSocket();
  const out = socketOutput(sock as unknown as Socket, () => undefined);
  out.cork?.();
  const parts: string[] = [];
  for (let i = 0; i < 50; i++) {
    const text = `${String(i).padStart(4, "0")}${"x".repeat(2000)}\r\n`;
    parts.push(text);
    const slot = out.slot?.(text.length);
    if (slot) slot.write(text, "latin1");
    else out.write(Buffer.from(text, "latin1"));
  }
  const big = "B".repeat(100_000);
  parts.push(big);
  out.write(Buffer.from(big));
  out.uncork?.();
  assert.ok(sock.writes.length >= 3);
  // (A batch the kernel took at once is filled again: compare what each write carried then.)
  assert.equal(Buffer.concat(sock.copies).toString("latin1"), parts.join(""));
});

test("a write the socket still holds is not overwritten by later replies; backpressure waits for drain", async () => {
  const sock = new FakeSocket();
  const out = socketOutput(sock as unknown as Socket, () => undefined);
  sock.stall = true;
  out.cork?.();
  fill(out.slot?.(10), "+OK first\n");
  const waiting = out.uncork?.();
  assert.ok(waiting instanceof Promise);
  sock.stall = false;
  let done = false;
  void waiting.then(() => {
    done = true;
  });
  // Other sessions' and later batches take buffers meanwhile.
  for (let i = 0; i < 8; i++) {
    const other = socketOutput(new FakeSocket() as unknown as Socket, () => undefined);
    other.cork?.();
    fill(other.slot?.(10), "ZZZZZZZZZZ");
    other.uncork?.();
  }
  out.cork?.();
  fill(out.slot?.(11), "+OK second\n");
  await new Promise((r) => setImmediate(r));
  assert.equal(done, false);
  sock.drain();
  await waiting;
  out.uncork?.();
  assert.deepEqual(
    sock.writes.map((w) => w.toString("latin1")),
    ["+OK first\n", "+OK second\n"],
  );
});

test("the idle timer fires after that long without activity, and activity postpones it", async () => {
  const t0 = Date.now();
  let fired = 0;
  const timer = idleTimer(120, () => {
    fired = Date.now() - t0;
  });
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 50));
    timer.touch();
  }
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(fired, 0, "touched 60 ms ago");
  await new Promise((r) => setTimeout(r, 150));
  assert.ok(fired >= 200 + 120 - 5, `fired after ${fired} ms`);
  let never = false;
  const stopped = idleTimer(30, () => {
    never = true;
  });
  stopped.stop();
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(never, false);
  timer.stop();
});
