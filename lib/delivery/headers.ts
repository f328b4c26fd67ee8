/*
 * headers — the trace headers local delivery prepends, and Delivered-To loop detection.
 *
 * Prepended, in Postfix's order (mail_copy.c): Return-Path: <sender>, X-Original-To: (the
 * recipient as given to postern), Delivered-To: (the final envelope recipient). Before any
 * delivery the message's header section is scanned — streamed, stopping at the empty line,
 * so a large body is never read — for a Delivered-To: equal to the recipient (ignoring case);
 * one means the message has been here before: bounce 5.4.6 "mail forwarding loop for
 * <recipient>" (local(8)). RFC 5322 header syntax (folding), RFC 3463 codes.
 * Input is untrusted: header lines of any length are handled within a fixed memory cap.
 */
import { chunksOf, type MessageContent, oneLine } from "./content.js";

export interface TraceHeaderFields {
  readonly sender: string;
  /** Final envelope recipient; absent: no Delivered-To. */
  readonly deliveredTo?: string;
  /** Recipient as originally given; absent: no X-Original-To. */
  readonly originalRecipient?: string;
  /** Whether to write Return-Path (default yes). */
  readonly returnPath?: boolean;
}

/** The header text to prepend, each line ending in LF. */
export function traceHeaders(f: TraceHeaderFields): string {
  let text = "";
  if (f.returnPath !== false) text += `Return-Path: <${oneLine(f.sender)}>\n`;
  if (f.originalRecipient !== undefined) text += `X-Original-To: ${oneLine(f.originalRecipient)}\n`;
  if (f.deliveredTo !== undefined) text += `Delivered-To: ${oneLine(f.deliveredTo)}\n`;
  return text;
}

/** Longest header line kept for matching; Delivered-To values are short, longer ones cannot match. */
const MAX_KEPT_LINE = 4096;

/**
 * Incremental scanner of the header section for `Delivered-To: <recipient>`. Feed chunks
 * with push(); it reports "found", "clean" (end of headers reached) or "more".
 */
export class DeliveredToScanner {
  private readonly wanted: string;
  private line = "";
  private lineTooLong = false;
  /** The current logical header (with folded continuations) while it may still be Delivered-To. */
  private header: string | undefined;
  private state: "more" | "found" | "clean" = "more";

  constructor(recipient: string) {
    this.wanted = recipient.trim().toLowerCase();
  }

  push(chunk: Buffer): "more" | "found" | "clean" {
    let start = 0;
    while (this.state === "more" && start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      this.appendPartial(chunk.toString("latin1", start, end));
      if (nl < 0) break;
      this.endLine();
      start = nl + 1;
    }
    return this.state;
  }

  /** End of input: whatever header is pending is complete. */
  end(): "found" | "clean" {
    if (this.state === "more") {
      if (this.line !== "" || this.lineTooLong) this.endLine();
      this.finishHeader();
      if (this.state === "more") this.state = "clean";
    }
    return this.state === "found" ? "found" : "clean";
  }

  private appendPartial(text: string): void {
    if (this.lineTooLong) return;
    this.line += text;
    if (this.line.length > MAX_KEPT_LINE) this.lineTooLong = true;
  }

  private endLine(): void {
    const line = this.line.replace(/\r$/, "");
    const tooLong = this.lineTooLong;
    this.line = "";
    this.lineTooLong = false;
    if (line === "" && !tooLong) {
      this.finishHeader();
      if (this.state === "more") this.state = "clean";
      return;
    }
    const continuation = line.startsWith(" ") || line.startsWith("\t");
    if (continuation) {
      if (this.header !== undefined) this.header = tooLong ? undefined : this.header + line;
      return;
    }
    this.finishHeader();
    this.header = !tooLong && /^delivered-to[ \t]*:/i.test(line) ? line : undefined;
  }

  private finishHeader(): void {
    if (this.header === undefined) return;
    const value = this.header
      .slice(this.header.indexOf(":") + 1)
      .trim()
      .toLowerCase();
    this.header = undefined;
    if (value === this.wanted) this.state = "found";
  }
}

/** Whether the message already carries `Delivered-To: recipient`; reads only the header section. */
export async function hasDeliveredTo(content: MessageContent, recipient: string): Promise<boolean> {
  const scanner = new DeliveredToScanner(recipient);
  if (Buffer.isBuffer(content)) {
    const state = scanner.push(content);
    return (state === "more" ? scanner.end() : state) === "found";
  }
  for await (const chunk of chunksOf(content)) {
    const state = scanner.push(chunk);
    if (state !== "more") {
      destroyIfStream(content);
      return state === "found";
    }
  }
  return scanner.end() === "found";
}

function destroyIfStream(content: MessageContent): void {
  const maybe = content as { destroy?: () => void };
  if (typeof maybe.destroy === "function") maybe.destroy();
}
