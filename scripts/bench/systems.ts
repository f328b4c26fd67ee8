/*
 * systems — the mail systems a benchmark compares, configured alike on loopback: a
 * postern sandbox (`postern init --dev`) and a separate Postfix instance (alternate config
 * directory, own queue, no chroot), each delivering USER@localhost into a Maildir; and for
 * POP3, a postern sandbox and a separate Dovecot (own config file, base_dir and passwd-file,
 * plaintext USER/PASS on loopback) serving the same users' Maildirs.
 * Postfix and Dovecot need root (their masters bind and drop privileges), so the benchmarks do too.
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

/**
 * A POP3 server under test: `users` mailbox owners (one mailbox per parallel client, since a
 * POP3 mailbox serves one session at a time), all with the same password.
 */
export interface Pop3System {
  readonly name: string;
  readonly port: number;
  readonly password: string;
  readonly users: readonly string[];
  maildirOf(user: string): string;
  /** Give the filled mailboxes to the uid the mail process runs as. */
  ownMailboxes(): void;
  start(): void;
  stop(): void;
  masterPid(): number;
}

function makeMaildir(maildir: string): void {
  for (const sub of ["new", "cur", "tmp"]) mkdirSync(join(maildir, sub), { recursive: true });
}

/** A postern sandbox with users bench1..benchN (pop3 on portBase+110), mailboxes under DIR/mail. */
export function posternPop3(
  root: string,
  portBase: number,
  users: number,
  password: string,
  protocol: "pop3" | "imap" = "pop3",
): Pop3System {
  const dir = join(root, "postern");
  const names = Array.from({ length: users }, (_, i) => `bench${i + 1}`);
  sh(process.execPath, [POSTERN, "init", "--dev", dir, "--port-base", String(portBase), "--user", "bench1"]);
  const cli = (...a: string[]) => sh(process.execPath, [POSTERN, "-c", dir, ...a]);
  const withPassword = (a: string[]) =>
    execFileSync(process.execPath, [POSTERN, "-c", dir, ...a], { input: `${password}\n`, stdio: "pipe" });
  withPassword(["user", "passwd", "bench1"]);
  for (const u of names.slice(1)) withPassword(["user", "add", u]);
  const maildirOf = (u: string) => join(dir, "mail", u, "Maildir");
  for (const u of names) makeMaildir(maildirOf(u));
  return {
    name: "postern",
    port: portBase + (protocol === "imap" ? 143 : 110),
    password,
    users: names,
    maildirOf,
    ownMailboxes: () => undefined, // the sandbox's pop3 runs as the invoking user (root here)
    start: () => void cli("start"),
    stop: () => void cli("stop"),
    masterPid: () => Number(readFileSync(join(dir, "spool", "pid", "master.pid"), "utf8").trim()),
  };
}

function systemUser(name: string, home: string): { uid: number; gid: number } {
  try {
    sh("id", [name]);
  } catch {
    sh("useradd", ["-M", "-d", home, "-s", "/usr/sbin/nologin", name]);
  }
  return { uid: Number(sh("id", ["-u", name]).trim()), gid: Number(sh("id", ["-g", name]).trim()) };
}

function dovecotConf(root: string, port: number, users: string, protocol: "pop3" | "imap"): string {
  return `# throwaway Dovecot for the postern ${protocol.toUpperCase()} benchmark: loopback, plaintext, processes reused
base_dir = ${join(root, "dovecot-run")}
state_dir = ${join(root, "dovecot-state")}
log_path = ${join(root, "dovecot.log")}
protocols = ${protocol}
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT ${users}
}
userdb {
  driver = passwd-file
  args = ${users}
}
mail_location = maildir:~/Maildir
service ${protocol}-login {
  inet_listener ${protocol} {
    address = 127.0.0.1
    port = ${port}
  }
  service_count = 0
}
service ${protocol} {
  service_count = 0
}
service auth {
  client_limit = 2000
}
`;
}

/**
 * A throwaway Dovecot (Debian's dovecot-pop3d) with its own config file and base_dir under
 * root: the same virtual users bench1..benchN in a passwd-file (SHA512-CRYPT, as postern
 * stores them), mail owned by the system user benchdc, login and mail processes reused.
 */
export function dovecot(
  root: string,
  port: number,
  users: number,
  password: string,
  protocol: "pop3" | "imap" = "pop3",
): Pop3System {
  chmodSync(root, 0o755); // the mail uid must reach the mailboxes below it
  const homes = join(root, "dovecot-home");
  mkdirSync(homes, { recursive: true });
  const { uid, gid } = systemUser("benchdc", homes);
  const names = Array.from({ length: users }, (_, i) => `bench${i + 1}`);
  const hash = sh("doveadm", ["pw", "-s", "SHA512-CRYPT", "-p", password]).trim();
  const passwd = join(root, "dovecot-users");
  writeFileSync(passwd, names.map((u) => `${u}:${hash}:${uid}:${gid}::${join(homes, u)}::\n`).join(""));
  const conf = join(root, "dovecot.conf");
  writeFileSync(conf, dovecotConf(root, port, passwd, protocol));
  const maildirOf = (u: string) => join(homes, u, "Maildir");
  for (const u of names) makeMaildir(maildirOf(u));
  return {
    name: "dovecot",
    port,
    password,
    users: names,
    maildirOf,
    ownMailboxes: () => void sh("chown", ["-R", `${uid}:${gid}`, homes]),
    // the daemon keeps inherited stdio open, so it gets none: a pipe would block execFileSync
    start: () => void execFileSync("dovecot", ["-c", conf], { stdio: "ignore" }),
    stop: () => void sh("dovecot", ["-c", conf, "stop"]),
    masterPid: () => Number(readFileSync(join(root, "dovecot-run", "master.pid"), "utf8").trim()),
  };
}
