#!/usr/bin/env node
/*
 * pickup — feeds locally submitted mail (queue_directory/maildrop, written by
 * `postern sendmail`) to cleanup, as Postfix's pickup(8). A fifo service: woken by
 * sendmail through public/pickup and by master's timer (wakeup column, 60 s), and it
 * scans once at start. Runs as mail_owner. See lib/pickup.
 */
import { CleanupClient } from "../lib/cleanup/client.js";
import { P } from "../lib/config/params.js";
import { Pickup } from "../lib/pickup/pickup.js";
import { runServer } from "../lib/server/index.js";

await runServer("pickup", async ({ config, log }, poke) => {
  const queueDir = config.get(P.queue_directory);
  const cleanup = new CleanupClient(queueDir, config.get(P.ipc_timeout) * 1000);
  const pickup = new Pickup({ queueDir, log, cleanup, onIdle: poke });
  await pickup.start();
  return {
    onWakeup: () => pickup.wakeup(),
    busy: () => pickup.busy,
    onStop: async () => {
      await pickup.stop();
      cleanup.close();
    },
  };
});
