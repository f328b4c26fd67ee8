/*
 * scheduler tests — qmgr's core against a real queue directory and a stand-in local
 * delivery service on private/local (the delivery agent is not under test here).
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { reportLogPath } from "../../lib/bounce/select.js";
import { serveRequests } from "../../lib/ipc/index.js";
import { Logger } from "../../lib/log/index.js";
import { AgentPool, type DeliveryRequest } from "../../lib/qmgr/agents.js";
import { type QmgrSettings, Scheduler } from "../../lib/qmgr/scheduler.js";
import { appendOutcome, QueueFileWriter, queuePath } from "../../lib/queue/index.js";
import { withQueueDir } from "../queue/helpers.js";

function settings(queueDir: string, activeLimit: number): QmgrSettings {
  return {
    queueDir,
    localDomains: new Set(["localhost"]),
    activeLimit,
    transportLimit: 10,
    localDestinationLimit: 2,
    destinationLimit: 2,
    minimalBackoffMs: 300_000,
    maximalBackoffMs: 4_000_000,
    queueRunDelayMs: 300_000,
    maximalQueueLifetimeMs: 5 * 86_400_000,
    bounceQueueLifetimeMs: 5 * 86_400_000,
    staleTempMs: 3_600_000,
    delayWarningMs: 0,
  };
}

/** Answers every delivery request with "sent" and remembers which queue IDs it saw. */
function localService(queueDir: string, seen: string[]): Promise<Server> {
  const server = createServer((socket) => {
    void serveRequests<DeliveryRequest, unknown>(socket, {
      timeoutMs: 5000,
      isRequest: (m): m is DeliveryRequest => (m as { op?: unknown }).op === "deliver",
      handle: async (req) => {
        seen.push(req.queueId);
        await new Promise((r) => setTimeout(r, 5));
        return { status: "sent", dsn: "2.0.0", relay: "local", text: "delivered" };
      },
      warn: () => undefined,
    });
  });
  return new Promise((resolve) => server.listen(join(queueDir, "private", "local"), () => resolve(server)));
}

async function queueMessage(queueDir: string, n: number): Promise<string> {
  const writer = await QueueFileWriter.create(queueDir, {
    queue: "incoming",
    envelope: {
      sender: "a@example.org",
      recipients: [{ address: `u${n}@localhost` }],
      arrivalTime: 1,
      attrs: {},
    },
  });
  await writer.write(Buffer.from(`Subject: ${n}\n\nbody\n`));
  return writer.commit();
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(ok(), `timed out waiting until ${what}`);
}

/**
 * A scheduler over a fresh queue directory whose local transport records each delivered
 * queue ID in `seen`; torn down after `body`, whatever it does.
 */
async function withScheduler(
  activeLimit: number,
  logFile: (dir: string) => string,
  body: (t: { dir: string; seen: string[]; scheduler: Scheduler }) => Promise<void>,
): Promise<void> {
  const { dir, cleanup } = withQueueDir();
  const seen: string[] = [];
  const server = await localService(dir, seen);
  const agents = new AgentPool(dir, 5000);
  const scheduler = new Scheduler(
    settings(dir, activeLimit),
    agents,
    new Logger({ file: logFile(dir), tag: "postern/qmgr", host: "test" }),
    () => undefined,
  );
  try {
    await body({ dir, seen, scheduler });
  } finally {
    await scheduler.stop();
    agents.closeAll();
    server.close();
    cleanup();
  }
}

test("with an active limit of 1, one trigger drains a backlog in incoming/: room in active/ brings the next scan", async () => {
  await withScheduler(
    1,
    (dir) => join(dir, "maillog"),
    async ({ dir, seen, scheduler }) => {
      const logFile = join(dir, "maillog");
      const ids: string[] = [];
      for (let n = 0; n < 5; n++) ids.push(await queueMessage(dir, n));
      await scheduler.start();
      await until("every message is delivered and removed", () => {
        const left = readdirSync(join(dir, "incoming")).length + readdirSync(join(dir, "active")).length;
        return left === 0 && !scheduler.busy;
      });
      assert.deepEqual([...seen].sort(), [...ids].sort());
      const log = readFileSync(logFile, "utf8");
      for (const id of ids) {
        // Each message's lines in order: activated, then removed.
        const active = log.indexOf(`${id}: from=<a@example.org>, size=`);
        assert.ok(active >= 0 && log.indexOf(`${id}: removed`) > active, log);
      }
    },
  );
});

test("a trigger naming nothing scans incoming/ only; a message waiting there is delivered once", async () => {
  await withScheduler(
    100,
    () => "",
    async ({ dir, seen, scheduler }) => {
      await scheduler.start();
      await until("the start scan is over", () => !scheduler.busy);
      const id = await queueMessage(dir, 1);
      scheduler.wakeup("");
      await until(
        "the message is delivered",
        () => readdirSync(join(dir, "active")).length === 0 && !scheduler.busy && seen.length === 1,
      );
      assert.deepEqual(seen, [id]);
      assert.deepEqual(readdirSync(join(dir, "incoming")), []);
    },
  );
});

test("a message with an outcome recorded before activation has its report log removed with it; one with none is removed without", async () => {
  await withScheduler(
    100,
    () => "",
    async ({ dir, seen, scheduler }) => {
      // An earlier run bounced recipient 0 and had the bounce service report it (bounce/ID).
      const writer = await QueueFileWriter.create(dir, {
        queue: "incoming",
        envelope: {
          sender: "a@example.org",
          recipients: [{ address: "gone@localhost" }, { address: "u1@localhost" }],
          arrivalTime: 1,
          attrs: {},
        },
      });
      await writer.write(Buffer.from("Subject: x\n\nbody\n"));
      const earlier = await writer.commit();
      const path = queuePath(dir, "incoming", earlier);
      await appendOutcome(path, {
        index: 0,
        status: "bounced",
        dsn: "5.1.1",
        relay: "local",
        text: "unknown",
        time: 1,
      });
      writeFileSync(reportLogPath(dir, earlier), "\n0\n");
      const fresh = await queueMessage(dir, 2);
      await scheduler.start();
      await until(
        "both messages are delivered and removed",
        () => readdirSync(join(dir, "active")).length === 0 && !scheduler.busy && seen.length === 2,
      );
      assert.deepEqual([...seen].sort(), [earlier, fresh].sort());
      assert.deepEqual(readdirSync(join(dir, "incoming")), []);
      assert.equal(existsSync(reportLogPath(dir, earlier)), false);
      assert.deepEqual(readdirSync(join(dir, "bounce")), []);
    },
  );
});
