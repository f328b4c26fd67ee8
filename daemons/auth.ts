#!/usr/bin/env node
/*
 * auth — the authentication service (Dovecot's auth): the only process that reads password
 * data. Serves pop3-login, imap-login and smtpd on queue_directory/private/auth.
 * Runs as root or a user that can read user_passdb (and /etc/shadow when system users are on).
 * The failure penalty table (per client IP) outlives the process: it is saved to
 * data_directory/auth-penalty when an idle auth process retires and read by the next one,
 * so retiring never resets a brute-force delay.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AuthPenalty } from "../lib/auth/penalty.js";
import { serveAuth } from "../lib/auth/service.js";
import { P } from "../lib/config/params.js";
import { runServer } from "../lib/server/index.js";

await runServer("auth", ({ config, log }) => {
  const maxDelayMs = config.get(P.auth_failure_delay_max) * 1000;
  const penalty = new AuthPenalty({ maxMs: Math.max(maxDelayMs, 1) });
  const stateFile = join(config.get(P.data_directory), "auth-penalty");
  try {
    penalty.restore(readFileSync(stateFile, "utf8"));
  } catch {
    // no saved state: first start, or nothing to remember
  }
  const svc = {
    settings: {
      passwdFile: config.get(P.user_passdb),
      systemUsers: config.get(P.local_system_users),
      maxDelayMs,
      timeoutMs: config.get(P.ipc_timeout) * 1000,
    },
    log,
    penalty,
  };
  return {
    onConnection: (socket) => serveAuth(socket, svc),
    onExit: () => {
      try {
        mkdirSync(config.get(P.data_directory), { recursive: true, mode: 0o755 });
        writeFileSync(`${stateFile}.tmp`, penalty.save(), { mode: 0o600 });
        renameSync(`${stateFile}.tmp`, stateFile);
      } catch (err) {
        log.warning(`cannot save the login failure penalties to ${stateFile}: ${String(err)}`);
      }
    },
  };
});
