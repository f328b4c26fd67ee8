/*
 * log — the maillog writer every postern process uses.
 *
 * Lines are syslog-formatted exactly as Postfix writes them, so pflogsumm, fail2ban and
 * logwatch read them unchanged:  "Nov 22 10:00:00 host postern/smtpd[1234]: text".
 * Each line is one write(2) on an O_APPEND descriptor: many processes append to one file
 * without tearing lines and without a log daemon in between. reopen() is called after
 * log rotation (SIGUSR1 to master, `postern logrotate`), which forwards it to every worker.
 * Levels follow Postfix: info (no prefix), "warning: ", "error: ", "fatal: " (the caller
 * exits), "panic: ".
 */
import { closeSync, openSync, writeSync } from "node:fs";

export type LogLevel = "info" | "warning" | "error" | "fatal" | "panic";

export interface LogOptions {
  /** maillog_file; /dev/stdout and /dev/stderr write to the process's own descriptors. */
  file: string;
  /** "<syslog_name>/<program>", e.g. "postern/smtpd". */
  tag: string;
  /** Host name shown in each line (the first label of myhostname, as syslog does). */
  host: string;
  /** Also copy each line to stderr (foreground runs with -v, command-line tools). */
  alsoStderr?: boolean;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** RFC 3164 timestamp: "Nov  2 09:05:01" (day padded with a space). */
export function syslogTime(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  const day = String(d.getDate()).padStart(2, " ");
  return `${MONTHS[d.getMonth()]} ${day} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** syslogTime of the current second, computed once per second (lines come in bursts). */
let stampSecond = -1;
let stamp = "";
function stampNow(): string {
  const ms = Date.now();
  const second = Math.floor(ms / 1000);
  if (second !== stampSecond) {
    stamp = syslogTime(new Date(ms));
    stampSecond = second;
  }
  return stamp;
}

export class Logger {
  private fd = -1;
  private ownsFd = false;
  private opts: LogOptions;

  constructor(opts: LogOptions) {
    this.opts = opts;
    this.open();
  }

  get tag(): string {
    return this.opts.tag;
  }

  /** Change the tag (a worker learns its service name after start). */
  retag(tag: string): void {
    this.opts = { ...this.opts, tag };
  }

  info(text: string): void {
    this.write("info", text);
  }
  warning(text: string): void {
    this.write("warning", text);
  }
  error(text: string): void {
    this.write("error", text);
  }
  fatal(text: string): void {
    this.write("fatal", text);
  }
  panic(text: string): void {
    this.write("panic", text);
  }

  write(level: LogLevel, text: string): void {
    const raw = level === "info" ? text : `${level}: ${text}`;
    // One physical line per event: embedded newlines would break every log parser.
    const body = raw.includes("\n") || raw.includes("\r") ? raw.replace(/[\r\n]+/g, " ") : raw;
    const line = `${stampNow()} ${this.opts.host} ${this.opts.tag}[${process.pid}]: ${body}\n`;
    if (this.fd >= 0) {
      try {
        writeSync(this.fd, line);
      } catch {
        // A full disk or a vanished file must never take a mail process down with it.
      }
    }
    if (this.opts.alsoStderr && this.fd !== 2) {
      try {
        writeSync(2, `${this.opts.tag}: ${body}\n`);
      } catch {
        /* stderr closed */
      }
    }
  }

  /** Reopen the file (after logrotate moved it away). */
  reopen(): void {
    this.close();
    this.open();
  }

  close(): void {
    if (this.ownsFd && this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.ownsFd = false;
  }

  private open(): void {
    const f = this.opts.file;
    if (f === "/dev/stdout") {
      this.fd = 1;
    } else if (f === "/dev/stderr") {
      this.fd = 2;
    } else if (f === "") {
      this.fd = -1;
    } else {
      try {
        this.fd = openSync(f, "a", 0o644);
        this.ownsFd = true;
      } catch (err) {
        this.fd = -1;
        const msg = err instanceof Error ? err.message : String(err);
        try {
          writeSync(2, `${this.opts.tag}: warning: cannot open log file ${f}: ${msg}\n`);
        } catch {
          /* nothing more to do */
        }
      }
    }
  }
}

let current: Logger | undefined;

/** The process-wide logger; before initLog() lines go to stderr only. */
export function log(): Logger {
  current ??= new Logger({ file: "/dev/stderr", tag: "postern", host: "localhost" });
  return current;
}

export function initLog(opts: LogOptions): Logger {
  current?.close();
  current = new Logger(opts);
  return current;
}

/** Text of an unknown thrown value, for log lines. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
