#!/usr/bin/env node
import { QmgrWaker, qmgrTriggerPath, serveCleanup } from "../lib/cleanup/service.js";
/*
 * cleanup — makes queue files (Postfix's cleanup(8)): adds Received, Message-ID, Date and
 * From as needed, writes the file durably, wakes qmgr. Serves smtpd, pickup and bounce on
 * queue_directory/public/cleanup. See lib/cleanup.
 */
import { P } from "../lib/config/params.js";
import { runServer } from "../lib/server/index.js";

await runServer("cleanup", ({ config, log, wake }) => {
  const queueDir = config.get(P.queue_directory);
  const settings = {
    queueDir,
    myhostname: config.get(P.myhostname),
    myorigin: config.get(P.myorigin),
    mailName: config.get(P.mail_name),
    addMissing: config.get(P.always_add_missing_headers),
    headerSizeLimit: config.get(P.header_size_limit),
    timeoutMs: config.get(P.ipc_timeout) * 1000,
  };
  const waker = new QmgrWaker(qmgrTriggerPath(queueDir), (data) => wake("qmgr", data));
  return { onConnection: (socket) => serveCleanup(socket, settings, log, waker) };
});
