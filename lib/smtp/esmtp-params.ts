/*
 * esmtp-params — the meaning of MAIL FROM and RCPT TO parameters.
 *
 * Checks each ESMTP parameter against the extensions this server offers and normalises
 * the values the rest of the system reads (BODY, RET upper-cased). Unknown or unoffered
 * parameters get Postfix's "555 5.5.4 Unsupported option: KEY" (RFC 5321 4.1.1.11).
 *
 * Talks to: nothing; pure. RFCs: 1870 (SIZE), 6152 (8BITMIME), 3030 (BINARYMIME),
 * 6531 (SMTPUTF8), 3461 (DSN: RET, ENVID, NOTIFY, ORCPT; xtext), 4954 (AUTH=).
 * Security: values are client data; lengths are bounded and xtext is validated before
 * anything is stored in the envelope.
 */
import type { EsmtpParams } from "./command-parser.js";
import { R, reply, type SmtpReply } from "./reply.js";

export interface ParamPolicy {
  readonly messageSizeLimit: number;
  readonly dsn: boolean;
  readonly smtputf8: boolean;
  readonly chunking: boolean;
  readonly auth: boolean;
}

export type ParamCheck = { ok: true; params: EsmtpParams } | { ok: false; reply: SmtpReply };

/** RFC 3461 4: xtext = *( xchar / hexchar ), hexchar = "+" 2HEXDIG (upper case). */
export function isXtext(value: string, maxLength: number): boolean {
  if (value.length > maxLength) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x2b /* + */) {
      if (!/^[0-9A-F]{2}$/.test(value.slice(i + 1, i + 3))) return false;
      i += 2;
    } else if (c < 33 || c > 126 || c === 0x3d /* = */) {
      return false;
    }
  }
  return true;
}

const DSN_DISABLED = reply(501, "5.7.1", "DSN support is disabled");

type Checker = (value: string, policy: ParamPolicy) => string | SmtpReply;

const MAIL_CHECKERS: Readonly<Record<string, Checker>> = {
  SIZE: (v, p) => {
    if (!/^[0-9]{1,15}$/.test(v)) return reply(501, "5.5.4", "Bad message size syntax");
    return p.messageSizeLimit > 0 && Number(v) > p.messageSizeLimit ? R.sizeExceedsLimit : v;
  },
  BODY: (v, p) => {
    const body = v.toUpperCase();
    if (body === "7BIT" || body === "8BITMIME" || (body === "BINARYMIME" && p.chunking)) return body;
    return reply(501, "5.5.4", "Bad BODY keyword syntax");
  },
  SMTPUTF8: (v, p) => {
    if (!p.smtputf8) return R.unsupportedOption("SMTPUTF8");
    return v === "" ? v : reply(501, "5.5.4", "Bad SMTPUTF8 parameter syntax");
  },
  RET: (v, p) => {
    if (!p.dsn) return DSN_DISABLED;
    const ret = v.toUpperCase();
    return ret === "FULL" || ret === "HDRS" ? ret : reply(501, "5.5.4", "Bad RET parameter syntax");
  },
  ENVID: (v, p) => {
    if (!p.dsn) return DSN_DISABLED;
    return isXtext(v, 100) && v !== "" ? v : reply(501, "5.5.4", "Bad ENVID parameter syntax");
  },
  AUTH: (v, p) => {
    if (!p.auth) return R.unsupportedOption("AUTH");
    return v === "<>" || (v !== "" && isXtext(v, 500)) ? v : reply(501, "5.5.4", "Bad AUTH parameter syntax");
  },
};

const RCPT_CHECKERS: Readonly<Record<string, Checker>> = {
  NOTIFY: (v, p) => {
    if (!p.dsn) return DSN_DISABLED;
    const items = v.toUpperCase().split(",");
    const allowed = new Set(["SUCCESS", "FAILURE", "DELAY"]);
    const valid =
      (items.length === 1 && items[0] === "NEVER") ||
      (items.every((i) => allowed.has(i)) && new Set(items).size === items.length);
    return valid ? items.join(",") : reply(501, "5.5.4", "Error: Bad NOTIFY parameter syntax");
  },
  ORCPT: (v, p) => {
    if (!p.dsn) return DSN_DISABLED;
    const semi = v.indexOf(";");
    const type = v.slice(0, semi);
    const valid =
      semi > 0 && /^[A-Za-z0-9-]+$/.test(type) && isXtext(v.slice(semi + 1), 500) && semi + 1 < v.length;
    return valid ? v : reply(501, "5.5.4", "Error: Bad ORCPT parameter syntax");
  },
};

function check(
  params: Readonly<EsmtpParams>,
  checkers: Readonly<Record<string, Checker>>,
  p: ParamPolicy,
): ParamCheck {
  const out: EsmtpParams = {};
  for (const [key, value] of Object.entries(params)) {
    const checker = Object.hasOwn(checkers, key) ? checkers[key] : undefined;
    if (checker === undefined) return { ok: false, reply: R.unsupportedOption(key) };
    const result = checker(value, p);
    if (typeof result !== "string") return { ok: false, reply: result };
    out[key] = result;
  }
  return { ok: true, params: out };
}

export function checkMailParams(params: Readonly<EsmtpParams>, policy: ParamPolicy): ParamCheck {
  return check(params, MAIL_CHECKERS, policy);
}

export function checkRcptParams(params: Readonly<EsmtpParams>, policy: ParamPolicy): ParamCheck {
  return check(params, RCPT_CHECKERS, policy);
}

/** Non-ASCII in an address needs SMTPUTF8 on MAIL FROM (RFC 6531 3.4). */
export function needsSmtputf8(address: string): boolean {
  for (let i = 0; i < address.length; i++) if (address.charCodeAt(i) > 0x7e) return true;
  return false;
}
