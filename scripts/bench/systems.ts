/*
 * systems — the mail systems a benchmark compares, configured alike on loopback: a
 * postern sandbox (`postern init --dev`) and a separate Postfix instance (alternate config
 * directory, own queue, no chroot), each delivering USER@localhost into a Maildir.
 * Postfix needs root (its master binds and drops privileges), so the benchmark does too.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export interface MailSystem {
  readonly name: string;
  readonly port: number;
  readonly rcpt: string;
  readonly maildir: string;
  start(): void;
  stop(): void;
  masterPid(): number;
}

const POSTERN = fileURLToPath(new URL("../../daemons/postern.js", import.meta.url));

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync(cmd, args, { encoding: "utf8", env, stdio: ["ignore", "pipe", "pipe"] });
}

export function countMaildir(maildir: string): number {
  let n = 0;
  for (const sub of ["new", "cur"]) {
    const d = join(maildir, sub);
    if (existsSync(d)) n += readdirSync(d).length;
  }
  return n;
}

export function emptyMaildir(maildir: string): void {
  for (const sub of ["new", "cur", "tmp"]) {
    const d = join(maildir, sub);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) rmSync(join(d, f), { force: true });
  }
}

export function postern(root: string, portBase: number): MailSystem {
  const dir = join(root, "postern");
  sh(process.execPath, [POSTERN, "init", "--dev", dir, "--port-base", String(portBase), "--user", "bench"]);
  const cli = (...a: string[]) => sh(process.execPath, [POSTERN, "-c", dir, ...a]);
  return {
    name: "postern",
    port: portBase + 25,
    rcpt: "bench@localhost",
    maildir: join(dir, "mail", "bench", "Maildir"),
    start: () => void cli("start"),
    stop: () => void cli("stop"),
    masterPid: () => Number(readFileSync(join(dir, "spool", "pid", "master.pid"), "utf8").trim()),
  };
}

/** A throwaway Postfix instance; registers its directory in /etc/postfix/main.cf's alternate_config_directories. */
export function postfix(root: string, port: number): MailSystem {
  const conf = join(root, "postfix");
  const spool = join(root, "postfix-spool");
  const home = join(root, "postfix-home");
  mkdirSync(conf, { recursive: true });
  chmodSync(root, 0o755); // Postfix's unprivileged processes must reach their queue below it
  mkdirSync(home, { recursive: true });
  mkdirSync(spool, { recursive: true, mode: 0o755 });
  try {
    sh("id", ["benchpf"]);
  } catch {
    sh("useradd", ["-M", "-d", home, "-s", "/usr/sbin/nologin", "benchpf"]);
  }
  sh("usermod", ["-d", home, "benchpf"]);
  sh("chown", ["benchpf:", home]);
  const alt = sh("postconf", ["-h", "alternate_config_directories"]).trim();
  if (!alt.split(/[\s,]+/).includes(conf))
    sh("postconf", ["-e", `alternate_config_directories = ${alt ? `${alt} ` : ""}${conf}`]);
  writeFileSync(
    join(conf, "main.cf"),
    [
      "compatibility_level = 3.6",
      `queue_directory = ${spool}`,
      `data_directory = ${join(root, "postfix-data")}`,
      "mail_owner = postfix",
      "setgid_group = postdrop",
      "inet_interfaces = 127.0.0.1",
      "inet_protocols = ipv4",
      "myhostname = bench.localdomain",
      "mydestination = localhost",
      "mynetworks = 127.0.0.0/8",
      "home_mailbox = Maildir/",
      "alias_maps =",
      "alias_database =",
      "biff = no",
      "smtpd_banner = $myhostname ESMTP",
      `maillog_file = ${join(root, "postfix-maillog")}`,
      `maillog_file_prefixes = ${root}`,
      "",
    ].join("\n"),
  );
  const master = readFileSync("/etc/postfix/master.cf", "utf8")
    .split("\n")
    .map((l) => (/^smtp\s+inet\b/.test(l) ? l.replace(/^smtp\b/, `127.0.0.1:${port}`) : l))
    .join("\n");
  writeFileSync(join(conf, "master.cf"), master);
  sh("postconf", ["-c", conf, "-F", "*/*/chroot = n"]);
  const env = { ...process.env, MAIL_CONFIG: conf };
  return {
    name: "postfix",
    port,
    rcpt: "benchpf@localhost",
    maildir: join(home, "Maildir"),
    start: () => {
      sh("postfix", ["-c", conf, "check"], env); // creates the queue's subdirectories
      sh("postfix", ["-c", conf, "start"], env);
    },
    stop: () => {
      sh("postfix", ["-c", conf, "stop"], env);
    },
    masterPid: () => Number(readFileSync(join(spool, "pid", "master.pid"), "utf8").trim()),
  };
}
