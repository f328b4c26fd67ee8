#!/usr/bin/env node
/*
 * smtpd — the SMTP server (Postfix's smtpd(8)): RFC 5321 with PIPELINING, SIZE, 8BITMIME,
 * ENHANCEDSTATUSCODES, SMTPUTF8, CHUNKING and DSN; restriction lists; hands each message
 * to cleanup and answers 250 only once it is queued durably. See lib/smtp and lib/smtpd.
 */
import { AuthClient } from "../lib/auth/client.js";
import { CleanupClient } from "../lib/cleanup/client.js";
import { P } from "../lib/config/params.js";
import { smtpdClientLimit } from "../lib/master/client-limit.js";
import { runServer } from "../lib/server/index.js";
import { smtpEngineOptions } from "../lib/smtpd/engine-options.js";
import { makePolicy } from "../lib/smtpd/policy-hooks.js";
import { type SmtpdShared, serveSmtp } from "../lib/smtpd/session.js";
import { loadServerContext, tlsLevel } from "../lib/smtpd/tls.js";

await runServer("smtpd", ({ config, log, args }) => {
  const shared: SmtpdShared = {
    settings: {
      hostname: config.get(P.myhostname),
      timeoutMs: config.get(P.smtpd_timeout) * 1000,
      peerLookup: config.get(P.smtpd_peername_lookup),
      tls: {
        context: loadServerContext(
          config.get(P.smtpd_tls_cert_file),
          config.get(P.smtpd_tls_key_file),
          config.get(P.smtpd_tls_protocols),
          (m) => log.warning(m),
        ),
        level: tlsLevel(config.get(P.smtpd_tls_security_level)),
        wrapper: config.get(P.smtpd_tls_wrappermode),
      },
      sasl: {
        mechanisms: config.get(P.smtpd_sasl_auth_enable)
          ? config.get(P.auth_mechanisms).map((m) => m.toUpperCase())
          : [],
        tlsOnly: config.get(P.smtpd_tls_auth_only),
      },
      engine: smtpEngineOptions(config),
    },
    policy: makePolicy(config, (m) => log.warning(m)),
    cleanup: new CleanupClient(config.get(P.queue_directory), config.get(P.ipc_timeout) * 1000),
    log,
    auth: config.get(P.smtpd_sasl_auth_enable)
      ? new AuthClient(config.get(P.queue_directory), config.get(P.ipc_timeout) * 1000)
      : undefined,
  };
  // Have master start cleanup and auth now, in parallel, rather than one after the other
  // while the first client waits (each is a Node process start).
  void shared.cleanup.prepare();
  void shared.policy.prepare();
  if (shared.auth) void shared.auth.prepare();
  // For the sessions it accepts itself on a lent listening socket; config has the -o overrides.
  const service = { name: args.serviceName, command: "smtpd", overrides: {} };
  const clientLimit =
    args.serviceType === "inet" ? smtpdClientLimit(config, { ...service, type: "inet" }, log) : undefined;
  return { onConnection: (socket) => serveSmtp(socket, shared), ...(clientLimit ? { clientLimit } : {}) };
});
