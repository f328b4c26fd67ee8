/*
 * Golden transcripts: test/fixtures/smtp/NAME.in is the client's side (one line per
 * command, CRLF appended; "\n" and "\r" escapes give bare characters, a trailing "\" joins
 * the next line without CRLF); NAME.ref the expected replies, then "-- message N" blocks
 * with each delivered message (CRLF shown as newlines) and "-- events" with the non-reply
 * events as JSON. NAME.opts (optional) holds engine option overrides as JSON. The input is
 * fed whole and byte by byte; both must match.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { harness } from "./harness.js";

const dir = new URL("../../../test/fixtures/smtp/", import.meta.url);

function clientInput(text: string): string {
  let out = "";
  for (const line of text.replace(/\n$/, "").split("\n")) {
    const joined = line.endsWith("\\");
    out +=
      (joined ? line.slice(0, -1) : line).replaceAll("\\n", "\n").replaceAll("\\r", "\r") +
      (joined ? "" : "\r\n");
  }
  return out;
}

async function render(name: string, split: "whole" | "bytes"): Promise<string> {
  const optsFile = new URL(`${name}.opts`, dir);
  const opts = existsSync(optsFile) ? JSON.parse(readFileSync(optsFile, "utf8")) : {};
  const h = harness({ opts });
  await h.send(clientInput(readFileSync(new URL(`${name}.in`, dir), "utf8")), split);
  h.engine.end();
  await h.engine.idle();
  const parts = [h.transcript().replaceAll("\r\n", "\n")];
  for (const [i, sink] of h.sinks.entries())
    parts.push(`-- message ${i + 1}\n${sink.content.replaceAll("\r\n", "\n")}`);
  const events = h.events.filter((e) => e.type !== "reply").map((e) => JSON.stringify(e));
  parts.push(`-- events\n${events.join("\n")}\n`);
  return parts.join("");
}

for (const file of readdirSync(dir).filter((f) => f.endsWith(".in"))) {
  const name = file.slice(0, -3);
  test(`golden transcript ${name} matches, fed whole and byte by byte`, async () => {
    const expected = readFileSync(new URL(`${name}.ref`, dir), "utf8");
    assert.equal(await render(name, "whole"), expected);
    assert.equal(await render(name, "bytes"), expected);
  });
}
