/*
 * The differential suite: every case in test/fixtures/recipes/*.yaml runs through postern's
 * interpreter and through the real procmail 3.22; folders, message bytes, exit codes (and
 * LOGFILE where the case asks) must be identical. A case marked `divergence` documents a
 * procmail behaviour we do not copy and asserts our own result instead. The procmail half
 * is skipped only when /usr/bin/procmail is absent. All cases run concurrently.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { before, describe, test } from "node:test";
import { parse } from "yaml";
import { type DiffCase, PROCMAIL, runPostern, runProcmail, type Snapshot } from "./harness.js";

const fixtures = new URL("../../../test/fixtures/recipes/", import.meta.url);

function loadCases(): DiffCase[] {
  const cases: DiffCase[] = [];
  for (const name of readdirSync(fixtures)
    .filter((n) => n.endsWith(".yaml"))
    .sort()) {
    const parsed = parse(readFileSync(new URL(name, fixtures), "utf8")) as DiffCase[];
    for (const c of parsed) cases.push({ ...c, name: `${name.replace(/\.yaml$/, "")}: ${c.name}` });
  }
  return cases;
}

const cases = loadCases();
const haveProcmail = existsSync(PROCMAIL);
const results = new Map<string, { ours: Snapshot; theirs: Snapshot | undefined }>();

async function inBatches<T>(
  items: readonly T[],
  size: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: size }, async () => {
    while (next < items.length) {
      const item = items[next++];
      if (item !== undefined) await work(item);
    }
  });
  await Promise.all(lanes);
}

function view(s: Snapshot, withLog: boolean): object {
  return withLog ? s : { exitCode: s.exitCode, files: s.files };
}

describe("the differential suite against procmail 3.22", () => {
  before(async () => {
    await inBatches(cases, 32, async (c) => {
      const [ours, theirs] = await Promise.all([
        runPostern(c),
        haveProcmail && c.divergence === undefined ? runProcmail(c) : Promise.resolve(undefined),
      ]);
      results.set(c.name, { ours, theirs });
    });
  });

  test("the corpus holds at least 80 cases", () => {
    assert.ok(cases.length >= 80, `only ${cases.length} cases`);
  });

  for (const c of cases) {
    test(c.name, {
      skip: !haveProcmail && c.divergence === undefined ? "procmail not installed" : false,
    }, () => {
      const r = results.get(c.name);
      assert.ok(r !== undefined);
      if (c.divergence !== undefined) {
        if (c.expect?.exitCode !== undefined) assert.equal(r.ours.exitCode, c.expect.exitCode);
        if (c.expect?.files !== undefined) assert.deepEqual(r.ours.files, c.expect.files);
        return;
      }
      assert.ok(r.theirs !== undefined);
      assert.deepEqual(view(r.ours, c.log === true), view(r.theirs, c.log === true));
    });
  }
});
