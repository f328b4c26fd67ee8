/*
 * sasl — SMTP AUTH (RFC 4954) for smtpd: runs the SASL mechanism (lib/auth/sasl) over the
 * engine's challenge exchange and asks the auth service to check the credentials; smtpd
 * never sees password data. Failures are answered as Postfix does and logged in the form
 * fail2ban's postfix-sasl filter reads: "warning: host[ip]: SASL PLAIN authentication failed: ...".
 */
import type { AuthClient } from "../auth/client.js";
import { formatSmtpSaslFailure } from "../auth/penalty.js";
import { isSaslMechanism, runSaslExchange, type SaslMechanism } from "../auth/sasl.js";
import type { Logger } from "../log/index.js";
import type { SmtpAuthExchange, SmtpAuthResult, SmtpSessionInfo } from "../smtp/server-engine.js";

const FAILED: SmtpAuthResult = {
  code: 535,
  enhanced: "5.7.8",
  text: "Error: authentication failed: authentication failure",
};
const TEMP: SmtpAuthResult = { code: 454, enhanced: "4.7.0", text: "Temporary authentication failure" };
const CANCELLED: SmtpAuthResult = { code: 501, enhanced: "5.7.0", text: "Authentication aborted" };
const MALFORMED: SmtpAuthResult = { code: 501, enhanced: "5.5.2", text: "Cannot decode response" };

export interface SaslDeps {
  client: AuthClient;
  log: Logger;
  hostname: string;
  localIp: string;
}

export async function smtpAuth(
  deps: SaslDeps,
  s: SmtpSessionInfo,
  mechanism: string,
  initialResponse: string | null,
  io: SmtpAuthExchange,
): Promise<SmtpAuthResult> {
  const mech = mechanism.toUpperCase();
  if (!isSaslMechanism(mech))
    return {
      code: 535,
      enhanced: "5.7.8",
      text: "Error: authentication failed: Invalid authentication mechanism",
    };
  const exchange = await runSaslExchange(mech as SaslMechanism, initialResponse, io, {
    hostname: deps.hostname,
  });
  if (!exchange.ok) return exchange.reason === "cancelled" ? CANCELLED : MALFORMED;
  const reply = await deps.client.passdb({
    service: "smtp",
    mechanism: mech,
    credentials: exchange.credentials,
    rip: s.clientIp,
    lip: deps.localIp,
    secured: s.tls,
  });
  if (reply.ok) return { user: reply.user.user, method: mech };
  deps.log.warning(
    formatSmtpSaslFailure({
      clientName: s.clientName,
      clientIp: s.clientIp,
      mechanism: mech,
      reason: reply.temporary ? "temporary failure" : "authentication failure",
    }).replace(/^warning: /, ""),
  );
  return reply.temporary ? TEMP : FAILED;
}
