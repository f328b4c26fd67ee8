/*
 * policy — the SMTP server's restriction engine, Postfix's smtpd_*_restrictions: parse the
 * lists at startup, evaluate them per command. See engine.ts for the evaluation rules,
 * restrictions.ts for the supported names and access.ts for access(5) tables.
 * Talks to lookup tables and the injected PolicyEnv. Security: fails closed (451).
 */
export { addressKeys, domainKeys, mailAddressKeys } from "./access.js";
export {
  buildStageLists,
  evaluate,
  evaluateAll,
  parseRestrictions,
  RESTRICTION_PARAMS,
  type StageLists,
  tokenizeRestrictions,
} from "./engine.js";
export { compileNetworks, inNetworks, NetworkListError, normalizeIp } from "./networks.js";
export { formatReply } from "./replies.js";
export { RESTRICTIONS } from "./restrictions.js";
export {
  type ListName,
  PolicyConfigError,
  type PolicyContext,
  type PolicyEnv,
  type PolicyResult,
  type Restriction,
  type SmtpReply,
} from "./types.js";
