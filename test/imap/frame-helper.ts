/*
 * frame-helper — test helper: runs bytes through ImapFramer (at once or byte by byte) and
 * parses command lines written as test strings.
 */
import {
  DEFAULT_FRAMER_LIMITS,
  type FrameEvent,
  type FramerLimits,
  ImapFramer,
} from "../../lib/imap/framer.js";
import { type ParseResult, parseCommand } from "../../lib/imap/parser/index.js";

export function frameAll(input: Buffer, limits: FramerLimits = DEFAULT_FRAMER_LIMITS): FrameEvent[] {
  const framer = new ImapFramer(limits);
  framer.push(input);
  return drain(framer);
}

export function frameByteByByte(input: Buffer, limits: FramerLimits = DEFAULT_FRAMER_LIMITS): FrameEvent[] {
  const framer = new ImapFramer(limits);
  const events: FrameEvent[] = [];
  for (let i = 0; i < input.length; i++) {
    framer.push(input.subarray(i, i + 1));
    events.push(...drain(framer));
  }
  return events;
}

function drain(framer: ImapFramer): FrameEvent[] {
  const events: FrameEvent[] = [];
  for (let e = framer.next(); e.kind !== "none"; e = framer.next()) events.push(e);
  return events;
}

/** Parses one command given as wire text (CRLF added); literals inside are framed too. */
export function parse(text: string): ParseResult {
  const events = frameAll(Buffer.from(`${text}\r\n`, "utf8")).filter((e) => e.kind !== "continue");
  const only = events[0];
  if (events.length !== 1 || only?.kind !== "command") throw new Error(`not one command: ${text}`);
  return parseCommand(only.command);
}

/** The parsed command without its tag, or the BAD text. */
export function parsedBody(text: string): unknown {
  const result = parse(text);
  if (!result.ok) return { bad: result.text };
  const { tag: _tag, ...body } = result.command;
  return body;
}
