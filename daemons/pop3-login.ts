#!/usr/bin/env node
/*
 * pop3-login — the POP3 pre-authentication process (Dovecot's pop3-login): greeting,
 * CAPA, STLS/pop3s, USER/PASS, APOP, AUTH via the auth service, then hand-off to the pop3
 * mail process: the client's socket through master, or with TLS this process proxying the
 * stream. Unprivileged, no mail access.
 * See lib/pop3-login and lib/pop3/login-engine.ts.
 */
import { AuthClient } from "../lib/auth/client.js";
import { P } from "../lib/config/params.js";
import { serveLogin } from "../lib/pop3-login/session.js";
import { pop3LoginSettings } from "../lib/pop3-login/settings.js";
import { runServer } from "../lib/server/index.js";

await runServer("pop3-login", ({ config, log, passer }) => {
  const settings = pop3LoginSettings(config, (m) => log.warning(m));
  const auth = new AuthClient(
    config.get(P.queue_directory),
    config.get(P.auth_failure_delay_max) * 1000 + config.get(P.ipc_timeout) * 1000,
  );
  const shared = { settings, auth, log, passer };
  return { onConnection: (socket) => serveLogin(socket, shared) };
});
