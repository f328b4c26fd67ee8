#!/usr/bin/env node
/*
 * bounce — delivery status notifications (Postfix's bounce(8)): serves qmgr on
 * queue_directory/private/bounce, builds RFC 3464 non-delivery and delay notices and
 * queues them through cleanup. Runs unprivileged. See lib/bounce.
 */
import { serveBounce } from "../lib/bounce/service.js";
import { CleanupClient } from "../lib/cleanup/client.js";
import { P } from "../lib/config/params.js";
import { runServer } from "../lib/server/index.js";

await runServer("bounce", ({ config, log }) => {
  const queueDir = config.get(P.queue_directory);
  const timeoutMs = config.get(P.ipc_timeout) * 1000;
  const svc = {
    settings: {
      queueDir,
      myhostname: config.get(P.myhostname),
      myorigin: config.get(P.myorigin),
      postmaster: config.get(P["2bounce_notice_recipient"]),
      maximalQueueLifetimeMs: config.get(P.maximal_queue_lifetime) * 1000,
      returnSizeLimit: config.get(P.bounce_size_limit),
      doubleBounceSender: config.get(P.double_bounce_sender),
      timeoutMs,
    },
    cleanup: new CleanupClient(queueDir, timeoutMs),
    log,
  };
  return { onConnection: (socket) => serveBounce(socket, svc) };
});
