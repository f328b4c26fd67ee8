import assert from "node:assert/strict";
import { test } from "node:test";
import { formatReply, reply, replyLogText } from "../../lib/smtp/reply.js";

test("formatReply renders a one-line reply with its enhanced code", () => {
  assert.equal(formatReply(reply(250, "2.1.0", "Ok")), "250 2.1.0 Ok\r\n");
});

test("formatReply renders multi-line replies with a dash on all but the last line", () => {
  assert.equal(
    formatReply(reply(250, "", ["mx.example", "PIPELINING", "CHUNKING"])),
    "250-mx.example\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
  );
  assert.equal(formatReply(reply(550, "5.7.1", ["a", "b"])), "550-5.7.1 a\r\n550 5.7.1 b\r\n");
});

test("formatReply replaces CR, LF and controls so a reply cannot inject another", () => {
  assert.equal(formatReply(reply(550, "5.7.1", "a\r\n250 ok")), "550 5.7.1 a??250 ok\r\n");
});

test("formatReply turns an impossible code into a local error", () => {
  assert.equal(formatReply(reply(99, "", "x")), "451 4.3.0 Error: local error\r\n");
});

test("replyLogText joins lines for a log record", () => {
  assert.equal(replyLogText(reply(550, "5.1.1", ["<u@d>:", "unknown"])), "550 5.1.1 <u@d>: unknown");
});
