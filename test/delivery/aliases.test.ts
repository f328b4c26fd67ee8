import assert from "node:assert/strict";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import type { OwnedText } from "../../lib/delivery/alias-files.js";
import {
  type AliasTable,
  type Destination,
  type ExpansionContext,
  expandRecipient,
  parseAliasValue,
} from "../../lib/delivery/aliases.js";
import type { UserInfo } from "../../lib/delivery/users.js";
import { tempDir } from "./helpers.js";

test("parseAliasValue recognises addresses, commands, files and includes", () => {
  assert.deepEqual(
    parseAliasValue("bob, carol@example.org , |/usr/bin/vacation bob, /var/log/mail, :include:/etc/list"),
    [
      { kind: "address", address: "bob" },
      { kind: "address", address: "carol@example.org" },
      { kind: "command", command: "/usr/bin/vacation bob" },
      { kind: "file", path: "/var/log/mail" },
      { kind: "include", path: "/etc/list" },
    ],
  );
});

test("parseAliasValue keeps commas inside quoted items and unquotes them", () => {
  assert.deepEqual(parseAliasValue('"|/bin/cmd a, b \\"c\\"", x, "/tmp/a file"'), [
    { kind: "command", command: '/bin/cmd a, b "c"' },
    { kind: "address", address: "x" },
    { kind: "file", path: "/tmp/a file" },
  ]);
});

test("parseAliasValue strips angle brackets, skips empty items and accepts :INCLUDE: in any case", () => {
  assert.deepEqual(parseAliasValue(" <a@b> ,, :INCLUDE: /x ,"), [
    { kind: "address", address: "a@b" },
    { kind: "include", path: "/x" },
  ]);
  assert.deepEqual(parseAliasValue(""), []);
});

test("parseAliasValue never throws and yields no empty targets for any input", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (s) => {
      for (const t of parseAliasValue(s)) {
        const value = t.kind === "address" ? t.address : t.kind === "command" ? t.command : t.path;
        if (t.kind !== "include") assert.notEqual(value, "");
      }
    }),
    { seed: 1, numRuns: 300 },
  );
});

function table(entries: Record<string, string>, spec = "test:aliases"): AliasTable {
  return { spec, lookup: async (k) => entries[k] };
}

function sysUser(user: string, uid: number): UserInfo {
  return { user, uid, gid: uid, home: `/home/${user}`, shell: "/bin/sh", kind: "system" };
}

const users: Record<string, UserInfo> = {
  alice: sysUser("alice", 1000),
  bob: sysUser("bob", 1001),
  root: sysUser("root", 0),
};

type Overrides = { [K in keyof ExpansionContext]?: ExpansionContext[K] | undefined };

/** A context with in-test tables and users; an override of undefined removes the default. */
function ctx(aliases: Record<string, string>, over: Overrides = {}): ExpansionContext {
  const merged: Record<string, unknown> = {
    aliasMaps: [table(aliases)],
    lookupUser: async (u: string) => users[u],
    recipientDelimiter: "+",
    localDomains: ["example.com", "localhost"],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Postfix's forward_path syntax, not a template
    forwardPath: ["$home/.forward${recipient_delimiter}${extension}", "$home/.forward"],
    allowMailToCommands: ["alias", "forward"],
    allowMailToFiles: ["alias", "forward"],
    defaultPrivs: { uid: 65534, gid: 65534 },
    readText: async () => undefined,
    ...over,
  };
  for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
  return merged as unknown as ExpansionContext;
}

function summary(ds: readonly Destination[]): string[] {
  return ds.map((d) => {
    switch (d.kind) {
      case "mailbox":
        return `mailbox:${d.user.user}${d.extension !== undefined ? `+${d.extension}` : ""}`;
      case "command":
        return `command:${d.command}@${d.privs.uid}`;
      case "file":
        return `file:${d.path}@${d.privs.uid}`;
      default:
        return `forward:${d.address}`;
    }
  });
}

async function expand(rcpt: string, c: ExpansionContext): Promise<string[]> {
  const r = await expandRecipient(rcpt, c);
  assert.ok(r.ok, r.ok ? "" : `${r.dsn} ${r.text}`);
  return summary(r.destinations);
}

test("expandRecipient delivers a user without alias to the mailbox", async () => {
  assert.deepEqual(await expand("Alice@example.com", ctx({})), ["mailbox:alice"]);
});

test("expandRecipient bounces an unknown user with 5.1.1", async () => {
  assert.deepEqual(await expandRecipient("nobody@example.com", ctx({})), {
    ok: false,
    status: "bounce",
    dsn: "5.1.1",
    text: 'unknown user: "nobody"',
  });
});

test("expandRecipient expands recursively, forwards remote addresses and removes duplicates", async () => {
  const c = ctx({
    staff: "alice, team, out@remote.example",
    team: "alice, bob@example.com, |/bin/log, OUT@remote.example",
  });
  assert.deepEqual(await expand("staff@example.com", c), [
    "mailbox:alice",
    "mailbox:bob",
    "command:/bin/log@65534",
    "forward:OUT@remote.example",
  ]);
});

test("expandRecipient consults alias_maps in order, first match wins", async () => {
  const c = ctx({}, { aliasMaps: [table({ x: "alice" }), table({ x: "bob", y: "bob" })] });
  assert.deepEqual(await expand("x", c), ["mailbox:alice"]);
  assert.deepEqual(await expand("y", c), ["mailbox:bob"]);
});

test("expandRecipient tries user+ext before user and propagates the unmatched extension", async () => {
  const c = ctx({ "alice+special": "bob", sales: "alice" });
  assert.deepEqual(await expand("alice+special@example.com", c), ["mailbox:bob"]);
  assert.deepEqual(await expand("sales+q3@example.com", c), ["mailbox:alice+q3"]);
  assert.deepEqual(await expand("alice+other@example.com", c), ["mailbox:alice+other"]);
});

test("an alias that includes itself delivers to its own mailbox", async () => {
  const c = ctx({ alice: "alice, bob" });
  assert.deepEqual(await expand("alice", c), ["mailbox:alice", "mailbox:bob"]);
});

test("a cycle among aliases ends with a clear 5.4.6 error", async () => {
  const r = await expandRecipient("a@example.com", ctx({ a: "b", b: "c", c: "a" }));
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.status, "bounce");
    assert.equal(r.dsn, "5.4.6");
    assert.equal(r.text, "mail forwarding loop for a@example.com: a -> b -> c -> a");
  }
});

test("the depth limit stops a very long alias chain", async () => {
  const chain: Record<string, string> = {};
  for (let i = 0; i < 20; i++) chain[`a${i}`] = `a${i + 1}`;
  const r = await expandRecipient("a0", ctx(chain, { maxDepth: 5 }));
  assert.equal(r.ok ? "" : r.dsn, "5.4.6");
});

test("a failing alias table defers with 4.3.0", async () => {
  const broken: AliasTable = {
    spec: "hash:/etc/aliases",
    lookup: async () => Promise.reject(new Error("db corrupt")),
  };
  const r = await expandRecipient("alice", ctx({}, { aliasMaps: [broken] }));
  assert.deepEqual(r, {
    ok: false,
    status: "defer",
    dsn: "4.3.0",
    text: "alias database unavailable",
    detail: "hash:/etc/aliases: db corrupt",
  });
});

test("allow_mail_to_commands and allow_mail_to_files restrict by source", async () => {
  const none = ctx({ x: "|/bin/true" }, { allowMailToCommands: [] });
  const r1 = await expandRecipient("x", none);
  assert.equal(r1.ok ? "" : `${r1.dsn} ${r1.text}`, "5.7.1 mail to command is restricted");
  const files = ctx({ x: "/tmp/f" }, { allowMailToFiles: ["forward"] });
  const r2 = await expandRecipient("x", files);
  assert.equal(r2.ok ? "" : `${r2.dsn} ${r2.text}`, "5.7.1 mail to file is restricted");
});

function reader(files: Record<string, OwnedText>): ExpansionContext["readText"] {
  return async (path) => files[path];
}

test("~/.forward redirects a system user; an entry naming the user keeps a copy in the mailbox", async () => {
  const c = ctx(
    {},
    {
      readText: reader({
        "/home/alice/.forward": {
          text: "# comment\n\\alice, far@remote.example\n|/usr/bin/procmail\n",
          uid: 1000,
          gid: 1000,
          mode: 0o644,
        },
      }),
    },
  );
  assert.deepEqual(await expand("alice", c), [
    "mailbox:alice",
    "forward:far@remote.example",
    "command:/usr/bin/procmail@1000",
  ]);
});

test("~/.forward+ext is preferred for an extended address", async () => {
  const c = ctx(
    {},
    {
      readText: reader({
        "/home/alice/.forward+lists": { text: "bob\n", uid: 1000, gid: 1000, mode: 0o644 },
        "/home/alice/.forward": { text: "far@remote.example\n", uid: 1000, gid: 1000, mode: 0o644 },
      }),
    },
  );
  assert.deepEqual(await expand("alice+lists", c), ["mailbox:bob"]);
  assert.deepEqual(await expand("alice+x", c), ["forward:far+x@remote.example"]);
});

test("an empty ~/.forward or one owned by someone else is ignored", async () => {
  const empty = ctx(
    {},
    {
      readText: reader({
        "/home/alice/.forward": { text: "# nothing\n", uid: 1000, gid: 1000, mode: 0o644 },
      }),
    },
  );
  assert.deepEqual(await expand("alice", empty), ["mailbox:alice"]);
  const foreign = ctx(
    {},
    {
      readText: reader({
        "/home/alice/.forward": { text: "x@evil.example\n", uid: 1001, gid: 1, mode: 0o644 },
      }),
    },
  );
  assert.deepEqual(await expand("alice", foreign), ["mailbox:alice"]);
});

test("mutually forwarding users are detected as a loop", async () => {
  const c = ctx(
    {},
    {
      readText: reader({
        "/home/alice/.forward": { text: "bob\n", uid: 1000, gid: 1000, mode: 0o644 },
        "/home/bob/.forward": { text: "alice\n", uid: 1001, gid: 1001, mode: 0o644 },
      }),
    },
  );
  const r = await expandRecipient("alice", c);
  assert.equal(r.ok ? "" : r.dsn, "5.4.6");
});

test(":include: files are read from real files, with the file owner's or default privileges", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const list = join(dir, "list");
    writeFileSync(list, "# members\nalice\nbob, remote@else.example\n/tmp/archive\n");
    const c = ctx(
      { list: `:include:${list}` },
      { readText: undefined, allowMailToFiles: ["alias", "forward", "include"] },
    );
    const owner = process.getuid?.() ?? 0;
    const privs = owner === 0 ? 65534 : owner;
    assert.deepEqual(await expand("list", c), [
      "mailbox:alice",
      "mailbox:bob",
      "forward:remote@else.example",
      `file:/tmp/archive@${privs}`,
    ]);
  } finally {
    cleanup();
  }
});

test(":include: rejects relative paths, missing files, restricted commands and include loops", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const a = join(dir, "a");
    writeFileSync(a, `:include:${a}\n`);
    const cmd = join(dir, "cmd");
    writeFileSync(cmd, "|/bin/true\n");
    const c = ctx(
      {
        rel: ":include:list",
        missing: `:include:${dir}/none`,
        loop: `:include:${a}`,
        cmd: `:include:${cmd}`,
      },
      { readText: undefined },
    );
    const status = async (r: string): Promise<string> => {
      const res = await expandRecipient(r, c);
      return res.ok ? "ok" : res.dsn;
    };
    assert.equal(await status("rel"), "5.3.5");
    assert.equal(await status("missing"), "5.3.0");
    assert.equal(await status("loop"), "5.4.6");
    assert.equal(await status("cmd"), "5.7.1");
  } finally {
    cleanup();
  }
});

test("a symlinked .forward is not followed", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { symlinkSync } = await import("node:fs");
    writeFileSync(join(dir, "secret"), "leak@evil.example\n");
    chmodSync(join(dir, "secret"), 0o600);
    symlinkSync(join(dir, "secret"), join(dir, ".forward"));
    const me = process.getuid?.() ?? 0;
    const home: UserInfo = { user: "alice", uid: me, gid: me, home: dir, shell: "/bin/sh", kind: "system" };
    const c = ctx({}, { readText: undefined, lookupUser: async () => home });
    const r = await expandRecipient("alice", c);
    assert.equal(r.ok ? "ok" : r.dsn, "4.3.0");
  } finally {
    cleanup();
  }
});
