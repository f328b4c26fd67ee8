/*
 * user — `postern user add|del|passwd|list`: maintain the passwd-file (Dovecot format,
 * user_passdb). Passwords are read from stdin (first line) and stored as {SHA512-CRYPT};
 * the file is rewritten atomically (temp + fsync + rename) with its comments and the other
 * lines kept byte for byte, keeping the file's owner and mode (new files: 0640, it holds
 * password hashes).
 */
import {
  closeSync,
  existsSync,
  fchmodSync,
  fchownSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from "node:fs";
import { parseArgs } from "node:util";
import { expandUserVars } from "../auth/passwd-file.js";
import { hashPassword } from "../auth/schemes.js";
import { loadMainCf } from "../config/index.js";
import { P } from "../config/params.js";
import { type CliCommand, type CliContext, CliFatal, UsageError } from "./context.js";

const USER_RE = /^[A-Za-z0-9._+-]+(@[A-Za-z0-9.-]+)?$/;

function readLines(file: string): string[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, "utf8");
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** The new file keeps the old one's owner, group and mode (postinst gives it to mail_owner). */
function writeLines(file: string, lines: string[]): void {
  const tmp = `${file}.tmp${process.pid}`;
  const old = existsSync(file) ? statSync(file) : undefined;
  const fd = openSync(tmp, "w", 0o640);
  try {
    writeSync(fd, lines.map((l) => `${l}\n`).join(""));
    if (old !== undefined) {
      fchmodSync(fd, old.mode & 0o7777);
      if (process.getuid?.() === 0) fchownSync(fd, old.uid, old.gid);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

function userOf(line: string): string | undefined {
  if (line.trim() === "" || line.trimStart().startsWith("#")) return undefined;
  return line.slice(0, line.indexOf(":") >= 0 ? line.indexOf(":") : line.length);
}

async function readPassword(ctx: CliContext): Promise<string> {
  const input = (await ctx.stdin()).toString("utf8");
  const pw = input.split(/\r?\n/)[0] ?? "";
  if (pw === "") throw new CliFatal("empty password (give it on standard input)");
  return pw;
}

function passdbPath(ctx: CliContext): { file: string; homeTemplate: string } {
  const main = loadMainCf(ctx.configDir);
  return { file: main.get(P.user_passdb), homeTemplate: main.get(P.virtual_home) };
}

async function add(ctx: CliContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      home: { type: "string" },
      uid: { type: "string" },
      gid: { type: "string" },
      "no-password": { type: "boolean" },
    },
  });
  const name = positionals[0];
  if (!name || positionals.length > 1)
    throw new UsageError("user add NAME [--home DIR] [--uid N] [--gid N] [--no-password] < password");
  if (!USER_RE.test(name)) throw new CliFatal(`bad user name: ${name}`);
  const { file, homeTemplate } = passdbPath(ctx);
  const lines = readLines(file);
  if (lines.some((l) => userOf(l) === name)) throw new CliFatal(`user ${name} already exists in ${file}`);
  const password = values["no-password"] ? "*" : await hashPassword(await readPassword(ctx), "SHA512-CRYPT");
  const home = values.home ?? expandUserVars(homeTemplate, name);
  lines.push(`${name}:${password}:${values.uid ?? ""}:${values.gid ?? ""}::${home}::`);
  writeLines(file, lines);
  return 0;
}

async function del(ctx: CliContext, argv: string[]): Promise<number> {
  const name = argv[0];
  if (!name || argv.length > 1) throw new UsageError("user del NAME");
  const { file } = passdbPath(ctx);
  const lines = readLines(file);
  const kept = lines.filter((l) => userOf(l) !== name);
  if (kept.length === lines.length) throw new CliFatal(`no such user: ${name}`);
  writeLines(file, kept);
  return 0;
}

async function passwd(ctx: CliContext, argv: string[]): Promise<number> {
  const name = argv[0];
  if (!name || argv.length > 1) throw new UsageError("user passwd NAME < password");
  const { file } = passdbPath(ctx);
  const lines = readLines(file);
  const i = lines.findIndex((l) => userOf(l) === name);
  if (i < 0) throw new CliFatal(`no such user: ${name}`);
  const fields = (lines[i] ?? "").split(":");
  fields[1] = await hashPassword(await readPassword(ctx), "SHA512-CRYPT");
  lines[i] = fields.join(":");
  writeLines(file, lines);
  return 0;
}

async function list(ctx: CliContext): Promise<number> {
  const { file } = passdbPath(ctx);
  for (const l of readLines(file)) {
    const u = userOf(l);
    if (u) ctx.out(u);
  }
  return 0;
}

export const userCommand: CliCommand = {
  name: "user",
  usage: "user add NAME [--home DIR] [--uid N] [--gid N] | user del NAME | user passwd NAME | user list",
  summary: "maintain the passwd-file of mail users (password on stdin)",
  async run(ctx, argv) {
    const [sub, ...rest] = argv;
    if (sub === "add") return add(ctx, rest);
    if (sub === "del") return del(ctx, rest);
    if (sub === "passwd") return passwd(ctx, rest);
    if (sub === "list") return list(ctx);
    throw new UsageError(`unknown user subcommand: ${sub ?? "(none)"}`);
  },
};
