/*
 * FETCH against Dovecot's recorded answers: BODY, BODYSTRUCTURE and ENVELOPE of every
 * corpus message (test/fixtures/mime/corpus/*.dovecot) and BODY[section]<partial> of the
 * sections fixture must come out of the handler byte for byte as dovecot-imapd 2.3 sent them,
 * first parsed from the file, then from the FolderCache without opening any file.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FolderCache } from "../../../lib/mailbox/cache.js";
import { maildirWith, removeTempDirs, TestSession } from "./fetch-helper.js";

const fixtures = new URL("../../../../test/fixtures/mime/", import.meta.url);
const corpus = new URL("corpus/", fixtures);
const names = readdirSync(corpus)
  .filter((n) => n.endsWith(".eml"))
  .sort();
const eml = (name: string) => readFileSync(new URL(name, corpus));
const dovecot = (name: string) =>
  readFileSync(new URL(name.replace(/\.eml$/, ".dovecot"), corpus)).toString("latin1");

after(removeTempDirs);

describe("ENVELOPE, BODY and BODYSTRUCTURE", () => {
  let root = "";
  before(async () => {
    root = await maildirWith(names.map((name) => ({ text: eml(name) })));
  });

  it("come out byte for byte as Dovecot sent them, for every corpus message", async () => {
    const s = await TestSession.open(root);
    const run = await s.run("FETCH 1:* (BODY BODYSTRUCTURE ENVELOPE)");
    assert.deepEqual(run.result, { status: "OK", code: null, text: "Fetch completed." });
    names.forEach((name, i) => {
      assert.equal(s.sent[i], `* ${i + 1} FETCH (${dovecot(name)})\r\n`, name);
    });
    assert.equal(s.opened, names.length, "each file opened once, parsed once");
  });

  it("come from the cache the second time, in a new session, without opening a file", async () => {
    const first = await TestSession.open(root);
    await first.run("FETCH 1:* (BODY BODYSTRUCTURE ENVELOPE)");
    const s = await TestSession.open(root);
    const run = await s.run("FETCH 1:* (BODY BODYSTRUCTURE ENVELOPE)");
    assert.equal(s.opened, 0);
    assert.equal(run.wire, first.sent.join(""));
  });

  it("are parsed again when a cache entry is damaged or foreign", async () => {
    const s = await TestSession.open(root);
    await s.run("FETCH 1 ENVELOPE");
    const cacheFile = join(root, "postern-cache");
    const uv = s.folder.uidValidity;
    const junk = [
      `${uv} 1 envelope.v1 "{\\"x\\":1}"`,
      `${uv} 1 body.v1 "[1,-2]"`,
      `${uv} 1 bodystructure.v1 "nope"`,
    ];
    writeFileSync(cacheFile, `${junk.join("\n")}\n`);
    const again = await TestSession.open(root);
    assert.equal(again.cache instanceof FolderCache, true);
    const run = await again.run("FETCH 1 (BODY BODYSTRUCTURE ENVELOPE)");
    assert.equal(run.wire, `* 1 FETCH (${dovecot(names[0] ?? "")})\r\n`);
    assert.equal(again.opened, 1);
  });
});

interface Recorded {
  message: string;
  section: string;
  data: string;
}
const recorded = JSON.parse(readFileSync(new URL("sections.dovecot.json", fixtures), "utf8")) as Recorded[];
const sectionMessages = [...new Set(recorded.map((r) => r.message))];

/** The FETCH attribute and the response item name for a recorded section. */
function attribute(section: string): { ask: string; name: string } {
  if (section === "<partial>") return { ask: "BODY.PEEK[]<5.40>", name: "BODY[]<5>" };
  return { ask: `BODY.PEEK[${section}]`, name: `BODY[${section.toUpperCase()}]` };
}

describe("BODY[section]<partial>", () => {
  let s: TestSession;
  before(async () => {
    s = await TestSession.open(await maildirWith(sectionMessages.map((name) => ({ text: eml(name) }))));
  });

  for (const r of recorded) {
    it(`BODY[${r.section}] of ${r.message} is Dovecot's literal`, async () => {
      const seq = sectionMessages.indexOf(r.message) + 1;
      const { ask, name } = attribute(r.section);
      const data = Buffer.from(r.data, "base64").toString("latin1");
      const run = await s.run(`FETCH ${seq} ${ask}`);
      assert.equal(run.wire, `* ${seq} FETCH (${name} {${data.length}}\r\n${data})\r\n`);
      assert.equal(run.result.status, "OK");
    });
  }
});
