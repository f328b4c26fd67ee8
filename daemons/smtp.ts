#!/usr/bin/env node
/*
 * smtp — the SMTP/ESMTP delivery agent (Postfix's smtp(8)): next hop from transport_maps,
 * relayhost or DNS MX, STARTTLS per smtp_tls_security_level, connection reuse, Postfix's
 * delivery log lines. Serves qmgr on queue_directory/private/smtp. See lib/smtp-client.
 */
import { P } from "../lib/config/params.js";
import { runServer } from "../lib/server/index.js";
import { serveSmtp } from "../lib/smtp-client/service.js";
import { smtpDepsFromConfig } from "../lib/smtp-client/settings.js";

await runServer("smtp", ({ config, log }) => {
  const svc = { deps: smtpDepsFromConfig(config, log), log, timeoutMs: config.get(P.ipc_timeout) * 1000 };
  return {
    onConnection: (socket) => serveSmtp(socket, svc),
    onStop: () => svc.deps.cache.closeAll(),
  };
});
