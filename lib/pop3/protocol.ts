/*
 * protocol — what the POP3 login and mail engines share: the input line buffer, command
 * parsing, reply formatting with RFC 2449 response codes, and the CAPA list.
 *
 * RFCs: 1939 (POP3), 2449 (CAPA, RESP-CODES, PIPELINING, IMPLEMENTATION), 3206 (SYS/TEMP,
 * AUTH codes), 5034 (SASL), 2595 (STLS). Lines end in CRLF; a bare LF is accepted as the
 * end of a command line, as Dovecot does.
 * Talks to: nothing. Security: input is hostile; lines are capped and counted, never
 * evaluated beyond a verb lookup in a table.
 */

export interface Pop3Output {
  /** Send bytes; a returned promise is awaited (backpressure). */
  write(bytes: Buffer): Promise<void> | void;
  /** Close the connection after what was written (including anything gathered while corked). */
  end(): void;
  /**
   * Optional batching: between cork() and uncork() the output may gather replies into
   * larger writes (pipelined commands then cost one send, not one per reply). uncork()
   * sends what was gathered.
   */
  cork?(): void;
  uncork?(): Promise<void> | void;
  /**
   * Optional, while corked: `size` bytes of the gathered output for the caller to fill now
   * (they count as written, in order), or undefined (not corked, or no room: write instead).
   */
  slot?(size: number): Buffer | undefined;
}

export type LineResult = { kind: "line"; text: string } | { kind: "too-long" } | { kind: "none" };

/** Accumulates input and yields complete lines; never holds more than `limit` bytes of one line. */
export class LineBuffer {
  private chunks: Buffer = Buffer.alloc(0);
  private overflow = false;

  constructor(private readonly limit: number) {}

  /** Keeps `bytes` without a copy when nothing is pending: the caller must not change them. */
  push(bytes: Buffer): void {
    this.chunks = this.chunks.length === 0 ? bytes : Buffer.concat([this.chunks, bytes]);
  }

  next(): LineResult {
    const lf = this.chunks.indexOf(0x0a);
    if (lf < 0) {
      if (this.chunks.length > this.limit) {
        this.overflow = true;
        this.chunks = Buffer.alloc(0);
      }
      return { kind: "none" };
    }
    const end = lf > 0 && this.chunks[lf - 1] === 0x0d ? lf - 1 : lf;
    const line = this.chunks.subarray(0, end);
    this.chunks = this.chunks.subarray(lf + 1);
    if (this.overflow || line.length > this.limit) {
      this.overflow = false;
      return { kind: "too-long" };
    }
    return { kind: "line", text: line.toString("latin1") };
  }

  /** Unprocessed bytes (pipelined after the last line taken). */
  rest(): Buffer {
    return this.chunks;
  }

  clear(): void {
    this.chunks = Buffer.alloc(0);
    this.overflow = false;
  }
}

export interface Pop3Command {
  verb: string;
  args: readonly string[];
  /** Everything after the verb and one space, as typed (APOP/PASS keep spaces). */
  rest: string;
}

const NO_ARGS: readonly string[] = [];

export function parseCommand(line: string): Pop3Command {
  const sp = line.indexOf(" ");
  if (sp < 0) return { verb: line.toUpperCase(), args: NO_ARGS, rest: "" };
  const verb = line.slice(0, sp).toUpperCase();
  const rest = line.slice(sp + 1);
  // One argument and no other space (RETR n, DELE n): no split.
  const args =
    rest.indexOf(" ") < 0 ? (rest === "" ? NO_ARGS : [rest]) : rest.split(" ").filter((a) => a !== "");
  return { verb, args, rest };
}

export type RespCode = "AUTH" | "SYS/TEMP" | "SYS/PERM" | "IN-USE" | "LOGIN-DELAY";

/** "+OK" and the text as a line with its CRLF (latin1 text). */
export function okLine(text = ""): string {
  return text === "" ? "+OK\r\n" : `+OK ${text}\r\n`;
}

export function ok(text = ""): Buffer {
  return Buffer.from(okLine(text), "latin1");
}

export function err(text: string, code?: RespCode): Buffer {
  return Buffer.from(code === undefined ? `-ERR ${text}\r\n` : `-ERR [${code}] ${text}\r\n`, "latin1");
}

/** A multi-line reply whose lines need no dot-stuffing (LIST, UIDL, CAPA). */
export function multiline(first: Buffer, lines: readonly string[]): Buffer {
  return Buffer.concat([first, Buffer.from(lines.map((l) => `${l}\r\n`).join("") + ".\r\n", "latin1")]);
}

export interface CapaOptions {
  stage: "login" | "mail";
  stls: boolean;
  user: boolean;
  saslMechanisms: readonly string[];
  implementation: string;
}

/** RFC 2449 capability list; the login stage adds STLS, USER and SASL as they are offered. */
export function capaLines(o: CapaOptions): string[] {
  const lines = ["CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"];
  if (o.stage === "login") {
    if (o.stls) lines.push("STLS");
    if (o.user) lines.push("USER");
    if (o.saslMechanisms.length > 0) lines.push(`SASL ${o.saslMechanisms.join(" ")}`);
  }
  lines.push(`IMPLEMENTATION ${o.implementation}`);
  return lines;
}

/** Default limit on one command line; SASL responses of RFC 4616's maximum fit. */
export const DEFAULT_LINE_LIMIT = 2048;
/** Dovecot's CLIENT_MAX_BAD_COMMANDS. */
export const DEFAULT_MAX_BAD_COMMANDS = 20;
