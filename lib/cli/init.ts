/*
 * init — `postern init --dev DIR [--port-base N] [--user NAME] [--if-missing]`: write a
 * complete sandbox that runs without root: main.cf and master.cf with every path inside
 * DIR, loopback-only services on N+25 (smtp), N+587, N+465, N+110, N+995, N+143, N+993
 * (each listed only once its daemon exists), a passwd-file with one user, and aliases.
 * USER@localhost and USER@<hostname> reach DIR/mail/USER/Maildir.
 * Privilege separation is a no-op in a sandbox: mail_owner, login_user, virtual_uid and
 * setgid_group name the invoking user and their primary group, so every service runs as
 * whoever starts master, root (as CI does) or not.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadMainCf } from "../config/index.js";
import { compileMap } from "../maps/index.js";
import { idNames, readSystemAccounts } from "../master/identity.js";
import { daemonProgram } from "../master/master.js";
import { ensureQueueTree } from "../master/permissions.js";
import { type CliCommand, CliFatal, UsageError } from "./context.js";

interface ServiceLine {
  command: string;
  /** Other daemons the entry needs (submission needs auth). */
  needs?: string[];
  line: (base: number) => string;
}

/** Postfix's submission/smtps entries: TLS and authentication required, authenticated users relay. */
const SUBMISSION_OPTIONS = [
  "  -o smtpd_sasl_auth_enable=yes",
  "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject",
  "  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject",
];

/** Postfix's master.cf columns; private/unpriv/chroot as Postfix ships them, chroot off. */
const SANDBOX_SERVICES: ServiceLine[] = [
  { command: "smtpd", line: (b) => `127.0.0.1:${b + 25} inet n       -       n       -       -       smtpd` },
  {
    command: "smtpd",
    needs: ["auth"],
    line: (b) =>
      [
        `127.0.0.1:${b + 587} inet n       -       n       -       -       smtpd`,
        "  -o syslog_name=postern/submission",
        "  -o smtpd_tls_security_level=encrypt",
        "  -o smtpd_tls_auth_only=yes",
        ...SUBMISSION_OPTIONS,
      ].join("\n"),
  },
  {
    command: "smtpd",
    needs: ["auth"],
    line: (b) =>
      [
        `127.0.0.1:${b + 465} inet n       -       n       -       -       smtpd`,
        "  -o syslog_name=postern/smtps",
        "  -o smtpd_tls_wrappermode=yes",
        ...SUBMISSION_OPTIONS,
      ].join("\n"),
  },
  { command: "cleanup", line: () => "cleanup   unix  n       -       n       -       0       cleanup" },
  { command: "qmgr", line: () => "qmgr      fifo  n       -       n       300     1       qmgr" },
  { command: "local", line: () => "local     unix  -       n       n       -       -       local" },
  { command: "bounce", line: () => "bounce    unix  -       -       n       -       0       bounce" },
  { command: "smtp", line: () => "smtp      unix  -       -       n       -       -       smtp" },
  { command: "pickup", line: () => "pickup    fifo  n       -       n       60?     1       pickup" },
  { command: "showq", line: () => "showq     unix  n       -       n       -       -       showq" },
  { command: "auth", line: () => "auth      unix  -       n       n       -       1       auth" },
  {
    command: "pop3-login",
    needs: ["auth", "pop3"],
    line: (b) => `127.0.0.1:${b + 110} inet n       -       n       -       -       pop3-login`,
  },
  {
    command: "pop3-login",
    needs: ["auth", "pop3"],
    line: (b) =>
      [
        `127.0.0.1:${b + 995} inet n       -       n       -       -       pop3-login`,
        "  -o pop3_tls_wrappermode=yes",
      ].join("\n"),
  },
  { command: "pop3", line: () => "pop3      unix  -       n       n       -       -       pop3" },
  {
    command: "imap-login",
    needs: ["auth"],
    line: (b) => `127.0.0.1:${b + 143} inet n       -       n       -       -       imap-login`,
  },
  {
    command: "imap-login",
    needs: ["auth"],
    line: (b) =>
      [
        `127.0.0.1:${b + 993} inet n       -       n       -       -       imap-login`,
        "  -o imap_tls_wrappermode=yes",
      ].join("\n"),
  },
  { command: "imap", line: () => "imap      unix  -       n       n       -       -       imap" },
];

/** The invoking user and their primary group, by name where the system knows them. */
function invoker(): { user: string; group: string } {
  const me = userInfo();
  return { user: me.username, group: idNames(readSystemAccounts()).group(me.gid) };
}

function mainCf(dir: string, user: string): string {
  const self = invoker();
  return `# postern development sandbox, written by \`postern init --dev\`.
# Everything lives below ${dir}; nothing needs root. Use it with: postern -c ${dir} COMMAND
queue_directory = ${dir}/spool
data_directory = ${dir}/data
maillog_file = ${dir}/maillog
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination = $myhostname, localhost.$mydomain, localhost
alias_maps = hash:${dir}/aliases
alias_database = hash:${dir}/aliases
user_passdb = ${dir}/users
virtual_home = ${dir}/mail/%u
home_mailbox = Maildir/
mail_location = maildir:~/Maildir
local_system_users = no
local_recipient_maps = auth:userdb $alias_maps
mail_owner = ${self.user}
login_user = ${self.user}
virtual_uid = ${self.user}
setgid_group = ${self.group}
default_privs = ${user}
smtpd_tls_cert_file = ${dir}/tls/cert.pem
smtpd_tls_key_file = ${dir}/tls/key.pem
smtpd_tls_security_level = may
`;
}

function masterCf(base: number, have: (cmd: string) => boolean): string {
  const head = `# postern development sandbox master.cf (Postfix's format).
# ==========================================================================
# service type  private unpriv  chroot  wakeup  maxproc command + args
#               (yes)   (yes)   (no)    (never) (100)
# ==========================================================================
`;
  const usable = (s: ServiceLine) => have(s.command) && (s.needs ?? []).every(have);
  return (
    head +
    SANDBOX_SERVICES.filter(usable)
      .map((s) => `${s.line(base)}\n`)
      .join("")
  );
}

/**
 * A self-signed certificate whose names cover localhost, 127.0.0.1, ::1 and this host, so
 * clients that check host names (mbsync, fetchmail sslcertck) accept it once trusted.
 */
export function selfSignedCertificate(dir: string, warn: (m: string) => void): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const host = hostname();
  const names = [...new Set(["localhost", host, host.split(".")[0] ?? host])].map((n) => `DNS:${n}`);
  const san = [...names, "IP:127.0.0.1", "IP:::1"].join(",");
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "3650",
        "-subj",
        "/CN=localhost",
        "-addext",
        `subjectAltName=${san}`,
        "-keyout",
        `${dir}/key.pem`,
        "-out",
        `${dir}/cert.pem`,
      ],
      { stdio: "ignore" },
    );
    chmodSync(`${dir}/key.pem`, 0o600);
  } catch (err) {
    warn(
      `cannot create a TLS certificate with openssl (${err instanceof Error ? err.message : String(err)}); TLS stays off`,
    );
  }
}

export const initCommand: CliCommand = {
  name: "init",
  usage: "init --dev DIR [--port-base N] [--user NAME] [--if-missing]",
  summary: "write a self-contained development sandbox in DIR",
  async run(ctx, argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        dev: { type: "boolean" },
        "port-base": { type: "string" },
        user: { type: "string" },
        "if-missing": { type: "boolean" },
      },
    });
    const target = positionals[0];
    if (!values.dev || !target || positionals.length > 1)
      throw new UsageError("init --dev DIR [--port-base N]");
    const dir = resolve(target);
    if (values["if-missing"] && existsSync(`${dir}/main.cf`)) return 0;
    const base = Number.parseInt(values["port-base"] ?? "2000", 10);
    if (!Number.isInteger(base) || base < 1 || base + 995 > 65535)
      throw new CliFatal(`bad --port-base: ${values["port-base"]}`);
    const user = values.user ?? userInfo().username;
    for (const sub of ["", "/spool", "/data", "/mail", `/mail/${user}`])
      mkdirSync(dir + sub, { recursive: true, mode: 0o755 });
    writeFileSync(`${dir}/main.cf`, mainCf(dir, user));
    const main = loadMainCf(dir);
    writeFileSync(
      `${dir}/master.cf`,
      masterCf(base, (cmd) => existsSync(daemonProgram(main, cmd))),
    );
    if (!existsSync(`${dir}/users`))
      writeFileSync(
        `${dir}/users`,
        `# user:password:uid:gid:gecos:home:shell:extra (Dovecot passwd-file)\n${user}:*::::${dir}/mail/${user}::\n`,
        { mode: 0o640 },
      );
    if (!existsSync(`${dir}/aliases`)) {
      writeFileSync(
        `${dir}/aliases`,
        `# See aliases(5). Run \`postern -c ${dir} aliases\` after editing.\npostmaster: ${user}\nroot: ${user}\nMAILER-DAEMON: postmaster\n`,
      );
    }
    await compileMap(`hash:${dir}/aliases`, { format: "aliases" });
    if (!existsSync(`${dir}/tls/cert.pem`)) selfSignedCertificate(`${dir}/tls`, (m) => ctx.warn(m));
    ensureQueueTree(`${dir}/spool`, undefined);
    ctx.err(
      `postern: sandbox written to ${dir}; SMTP on 127.0.0.1:${base + 25}; mail for ${user}@localhost goes to ${dir}/mail/${user}/Maildir`,
    );
    return 0;
  },
};
