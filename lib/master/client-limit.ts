/*
 * client-limit — how many connections one client IP may have to smtpd at once, and what a
 * client beyond that is told (Postfix's anvil limit, smtpd_client_connection_count_limit).
 * Master applies it to the connections it hands over; smtpd applies the same limit to the
 * sessions it accepts itself on a lent listening socket (lib/master/listeners.ts).
 */

import { loadMainCf, type MainCf, type MasterService } from "../config/index.js";
import { P, type ParamDef } from "../config/params.js";
import { errorText, type Logger } from "../log/index.js";
import { compileNetworks, inNetworks } from "../smtp/policy/networks.js";
import type { ClientLimit } from "./client-counts.js";

/** What the limit depends on: a master.cf entry, or a worker's own -n/-t/-o and program. */
export type ServiceRef = Pick<MasterService, "name" | "type" | "command" | "overrides">;

/**
 * smtpd_client_connection_count_limit (a service's -o override wins over main.cf), with
 * Postfix's refusal; undefined for a service that is not on inet.
 */
export function smtpdClientLimit(main: MainCf, svc: ServiceRef, log: Logger): ClientLimit | undefined {
  if (svc.type !== "inet") return undefined;
  const exempt = exemptNetworks(main, svc, log);
  const host = main.get(P.myhostname);
  return {
    max: serviceInt(main, svc, P.smtpd_client_connection_count_limit),
    ...(exempt ? { exempt } : {}),
    refusal: (ip) => `421 4.7.0 ${host} Error: too many connections from ${ip}\r\n`,
  };
}

/** An integer parameter as the service's workers see it: its -o override wins over main.cf. */
export function serviceInt(main: MainCf, svc: Pick<MasterService, "overrides">, p: ParamDef<"int">): number {
  const override = svc.overrides[p.name];
  return override !== undefined ? Number.parseInt(override, 10) || 0 : main.get(p);
}

/**
 * smtpd_client_event_limit_exceptions (Postfix: $mynetworks): clients the connection count
 * limit does not apply to. A list master cannot use is logged and exempts nobody.
 */
function exemptNetworks(main: MainCf, svc: ServiceRef, log: Logger): ((ip: string) => boolean) | undefined {
  const name = P.smtpd_client_event_limit_exceptions.name;
  const cf =
    svc.overrides[name] === undefined ? main : loadMainCf(main.configDir, { overrides: svc.overrides });
  const entries = cf.get(P.smtpd_client_event_limit_exceptions);
  if (entries.length === 0) return undefined;
  try {
    compileNetworks(entries);
  } catch (err) {
    log.warning(`${svc.name}: ${name}: ${errorText(err)}; no client is exempt`);
    return undefined;
  }
  return (ip) => inNetworks(ip, entries);
}
