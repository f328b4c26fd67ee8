#!/usr/bin/env node
/*
 * qmgr — the queue manager (Postfix's qmgr(8)): a fifo service woken by cleanup and by
 * master's timer; schedules deliveries to the local and smtp agents, defers with backoff,
 * expires. See lib/qmgr/scheduler.ts.
 */
import { P } from "../lib/config/params.js";
import { AgentPool } from "../lib/qmgr/agents.js";
import { Scheduler } from "../lib/qmgr/scheduler.js";
import { runServer } from "../lib/server/index.js";

await runServer("qmgr", async ({ config, log }, poke) => {
  const queueDir = config.get(P.queue_directory);
  const agents = new AgentPool(queueDir, config.get(P.ipc_timeout) * 1000);
  const scheduler = new Scheduler(
    {
      queueDir,
      localDomains: new Set(config.get(P.mydestination).map((d) => d.toLowerCase().replace(/\.$/, ""))),
      activeLimit: config.get(P.qmgr_message_active_limit),
      transportLimit: config.get(P.default_process_limit),
      localDestinationLimit: config.get(P.local_destination_concurrency_limit),
      destinationLimit: config.get(P.default_destination_concurrency_limit),
      minimalBackoffMs: config.get(P.minimal_backoff_time) * 1000,
      maximalBackoffMs: config.get(P.maximal_backoff_time) * 1000,
      queueRunDelayMs: config.get(P.queue_run_delay) * 1000,
      maximalQueueLifetimeMs: config.get(P.maximal_queue_lifetime) * 1000,
      bounceQueueLifetimeMs: config.get(P.bounce_queue_lifetime) * 1000,
      staleTempMs: config.get(P.ipc_timeout) * 1000,
      delayWarningMs: config.get(P.delay_warning_time) * 1000,
    },
    agents,
    log,
    poke,
  );
  const timer = setInterval(() => scheduler.wakeup("D"), config.get(P.queue_run_delay) * 1000);
  timer.unref();
  await scheduler.start();
  return {
    onWakeup: (data) => scheduler.wakeup(data),
    busy: () => scheduler.holdsWork,
    onStop: async () => {
      clearInterval(timer);
      await scheduler.stop();
      agents.closeAll();
    },
  };
});
