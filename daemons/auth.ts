#!/usr/bin/env node
/*
 * auth — the authentication service (Dovecot's auth): the only process that reads password
 * data. Serves pop3-login, imap-login and smtpd on queue_directory/private/auth.
 * Runs as root or a user that can read user_passdb (and /etc/shadow when system users are on).
 */
import { AuthPenalty } from "../lib/auth/penalty.js";
import { serveAuth } from "../lib/auth/service.js";
import { P } from "../lib/config/params.js";
import { runServer } from "../lib/server/index.js";

await runServer("auth", ({ config, log }) => {
  const maxDelayMs = config.get(P.auth_failure_delay_max) * 1000;
  const svc = {
    settings: {
      passwdFile: config.get(P.user_passdb),
      systemUsers: config.get(P.local_system_users),
      maxDelayMs,
      timeoutMs: config.get(P.ipc_timeout) * 1000,
    },
    log,
    penalty: new AuthPenalty({ maxMs: Math.max(maxDelayMs, 1) }),
  };
  return { onConnection: (socket) => serveAuth(socket, svc) };
});
