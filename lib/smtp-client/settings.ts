/*
 * settings — the smtp delivery agent's configuration, read once from main.cf (Postfix's
 * smtp parameters, declared in lib/config/params.ts) into the plain values deliver.ts needs: next-hop rules,
 * the DNS resolver (smtp_dns_servers), per-stage time limits, the STARTTLS policy and the
 * connection cache. Talks to the file system only through openMap (transport_maps).
 */
import type { MainCf } from "../config/index.js";
import { ConfigError } from "../config/index.js";
import { P, type ParamDef } from "../config/params.js";
import type { Logger } from "../log/index.js";
import { openMap } from "../maps/index.js";
import { SessionCache } from "./cache.js";
import type { SmtpDeliveryDeps } from "./deliver.js";
import { createResolver } from "./nexthop.js";
import type { StageTimeouts, TlsLevel } from "./session.js";

const TLS_LEVELS: readonly TlsLevel[] = ["none", "may", "encrypt"];

function tlsLevel(config: MainCf): TlsLevel {
  const level = config.get(P.smtp_tls_security_level).trim().toLowerCase() || "none";
  const found = TLS_LEVELS.find((l) => l === level);
  if (!found)
    throw new ConfigError(`smtp_tls_security_level: unsupported level "${level}" (none, may or encrypt)`);
  return found;
}

function timeouts(config: MainCf): StageTimeouts {
  const ms = (p: ParamDef<"time">) => config.get(p) * 1000;
  return {
    connect: ms(P.smtp_connect_timeout),
    helo: ms(P.smtp_helo_timeout),
    mail: ms(P.smtp_mail_timeout),
    rcpt: ms(P.smtp_rcpt_timeout),
    dataInit: ms(P.smtp_data_init_timeout),
    dataXfer: ms(P.smtp_data_xfer_timeout),
    dataDone: ms(P.smtp_data_done_timeout),
    rset: ms(P.smtp_rset_timeout),
    quit: ms(P.smtp_quit_timeout),
  };
}

export function smtpDepsFromConfig(config: MainCf, log: Logger): SmtpDeliveryDeps {
  const warn = (m: string) => log.warning(m);
  return {
    nexthop: {
      transportMaps: config
        .get(P.transport_maps)
        .map((spec) => openMap(spec, { configDir: config.configDir, onWarning: warn })),
      relayhost: config.get(P.relayhost),
      hostLookup: config.get(P.smtp_host_lookup).map((s) => s.toLowerCase()),
      inetProtocols: config.get(P.inet_protocols).map((s) => s.toLowerCase()),
      defaultPort: config.get(P.smtp_tcp_port),
    },
    resolver: createResolver(config.get(P.smtp_dns_servers)),
    session: {
      heloName: config.get(P.smtp_helo_name) || config.get(P.myhostname),
      tlsLevel: tlsLevel(config),
      timeouts: timeouts(config),
      onInfo: (t) => log.info(t),
    },
    cache: new SessionCache(
      config.get(P.smtp_connection_cache_time_limit) * 1000,
      config.get(P.smtp_connection_reuse_count_limit),
    ),
  };
}
