import assert from "node:assert/strict";
import { test } from "node:test";
import { checkMailParams, checkRcptParams, isXtext, type ParamPolicy } from "../../lib/smtp/esmtp-params.js";
import { formatReply } from "../../lib/smtp/reply.js";

const all: ParamPolicy = { messageSizeLimit: 1000, dsn: true, smtputf8: true, chunking: true, auth: true };
const none: ParamPolicy = { messageSizeLimit: 0, dsn: false, smtputf8: false, chunking: false, auth: false };

function refusal(r: ReturnType<typeof checkMailParams>): string {
  return r.ok ? "ok" : formatReply(r.reply).trimEnd();
}

const mailCases: [Record<string, string>, ParamPolicy, string][] = [
  [{ SIZE: "1000" }, all, "ok"],
  [{ SIZE: "1001" }, all, "552 5.3.4 Message size exceeds fixed limit"],
  [{ SIZE: "99999999999" }, none, "ok"],
  [{ SIZE: "12k" }, all, "501 5.5.4 Bad message size syntax"],
  [{ BODY: "8bitmime" }, all, "ok"],
  [{ BODY: "BINARYMIME" }, none, "501 5.5.4 Bad BODY keyword syntax"],
  [{ BODY: "BINARYMIME" }, all, "ok"],
  [{ SMTPUTF8: "" }, none, "555 5.5.4 Unsupported option: SMTPUTF8"],
  [{ RET: "HDRS", ENVID: "QQ314159" }, all, "ok"],
  [{ RET: "ALL" }, all, "501 5.5.4 Bad RET parameter syntax"],
  [{ RET: "FULL" }, none, "501 5.7.1 DSN support is disabled"],
  [{ ENVID: "a=b" }, all, "501 5.5.4 Bad ENVID parameter syntax"],
  [{ AUTH: "<>" }, all, "ok"],
  [{ XFOO: "1" }, all, "555 5.5.4 Unsupported option: XFOO"],
];

for (const [params, policy, expected] of mailCases) {
  test(`checkMailParams ${JSON.stringify(params)} gives ${expected}`, () => {
    assert.equal(refusal(checkMailParams(params, policy)), expected);
  });
}

test("checkMailParams upper-cases BODY and RET values", () => {
  assert.deepEqual(checkMailParams({ BODY: "8bitmime", RET: "hdrs" }, all), {
    ok: true,
    params: { BODY: "8BITMIME", RET: "HDRS" },
  });
});

const rcptCases: [Record<string, string>, string][] = [
  [{ NOTIFY: "NEVER" }, "ok"],
  [{ NOTIFY: "success,delay" }, "ok"],
  [{ NOTIFY: "NEVER,SUCCESS" }, "501 5.5.4 Error: Bad NOTIFY parameter syntax"],
  [{ NOTIFY: "SUCCESS,SUCCESS" }, "501 5.5.4 Error: Bad NOTIFY parameter syntax"],
  [{ ORCPT: "rfc822;a+2Bb@c" }, "ok"],
  [{ ORCPT: "rfc822;a+2bb@c" }, "501 5.5.4 Error: Bad ORCPT parameter syntax"],
  [{ ORCPT: "nosemicolon" }, "501 5.5.4 Error: Bad ORCPT parameter syntax"],
  [{ SIZE: "1" }, "555 5.5.4 Unsupported option: SIZE"],
];

for (const [params, expected] of rcptCases) {
  test(`checkRcptParams ${JSON.stringify(params)} gives ${expected}`, () => {
    assert.equal(refusal(checkRcptParams(params, all)), expected);
  });
}

test("isXtext accepts hexchars and refuses '=', spaces and lower-case hex", () => {
  assert.equal(isXtext("a+3Db", 100), true);
  assert.equal(isXtext("a=b", 100), false);
  assert.equal(isXtext("a b", 100), false);
  assert.equal(isXtext("a+3d", 100), false);
  assert.equal(isXtext("aaaa", 3), false);
});
