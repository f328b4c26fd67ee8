/*
 * man-pages — the pages in man/ that the package installs: each renders with groff without
 * a single warning (-ww), postern(1) documents every subcommand of the CLI table, every
 * daemon has a section-8 page that lists every main.cf parameter its code reads (found by
 * following the daemon's imports through lib/), and every postern page named in SEE ALSO
 * exists. Reads the repository's sources and man/; runs groff when it is installed.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { COMMANDS } from "../../lib/cli/index.js";
import { P } from "../../lib/config/params.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const MAN = join(ROOT, "man");
const pages = readdirSync(MAN).filter((f) => /\.[1-8]$/.test(f));
const hasGroff = spawnSync("groff", ["--version"]).status === 0;

/** The CLI entry and the master are not master.cf services; they have section-1 pages. */
const NOT_SERVICES = new Set(["postern", "master"]);
const daemons = readdirSync(join(ROOT, "daemons"))
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.slice(0, -3))
  .filter((d) => !NOT_SERVICES.has(d));

function page(name: string): string {
  return readFileSync(join(MAN, name), "utf8");
}

/** Roff text as a reader sees it: font escapes gone, "\-" a hyphen. */
function plain(roff: string): string {
  return roff.replace(/\\f(\(..|\[[^\]]*\]|.)/g, "").replace(/\\-/g, "-");
}

/**
 * main.cf parameters a daemon's code reads: P.<handle> in daemons/<name>.ts and every local
 * module it imports, transitively (lib/config itself is the table, not a reader).
 */
function paramsReadBy(daemon: string): Set<string> {
  const byHandle = new Map(Object.entries(P).map(([handle, def]) => [handle, def.name]));
  const seen = new Set<string>();
  const names = new Set<string>();
  const stack = [join(ROOT, "daemons", `${daemon}.ts`)];
  for (let file = stack.pop(); file !== undefined; file = stack.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const src = readFileSync(file, "utf8");
    for (const m of src.matchAll(/\bP\.(\w+)/g)) names.add(byHandle.get(m[1] ?? "") ?? `P.${m[1]}`);
    for (const m of src.matchAll(/from\s+"(\.{1,2}\/[^"]+)\.js"/g)) {
      const target = resolve(dirname(file), `${m[1]}.ts`);
      if (existsSync(target) && !target.includes("/lib/config/")) stack.push(target);
    }
  }
  return names;
}

test("man/ holds pages for postern(1), sendmail compatibility and the file formats", () => {
  for (const name of ["postern.1", "postern-sendmail.1", "postern.conf.5", "postern-master.cf.5"]) {
    assert.ok(pages.includes(name), `man/${name} is missing`);
  }
});

test("every man page renders with groff -ww -man without a warning", {
  skip: !hasGroff && "no groff",
}, () => {
  for (const name of pages) {
    const r = spawnSync("groff", ["-ww", "-z", "-man", join(MAN, name)], { encoding: "utf8" });
    assert.equal(r.status, 0, `${name}: groff exited with ${r.status}`);
    assert.equal(r.stderr, "", `${name}: ${r.stderr}`);
  }
});

test("postern(1) has an entry for every subcommand in the CLI's command table", () => {
  const text = page("postern.1");
  const entryTags = text
    .split("\n.TP\n")
    .slice(1)
    .map((entry) => plain(entry.split("\n")[0] ?? "").replace(/^\.B\s+/, ""));
  for (const cmd of COMMANDS) {
    assert.ok(
      entryTags.some((tag) => tag === cmd.name || tag.startsWith(`${cmd.name} `)),
      `postern(1) does not document the ${cmd.name} command`,
    );
  }
});

test("every daemon has a section-8 page with NAME, DESCRIPTION, PARAMETERS and LOGGING", () => {
  for (const daemon of daemons) {
    const file = `postern-${daemon}.8`;
    assert.ok(pages.includes(file), `man/${file} is missing for daemons/${daemon}.ts`);
    const text = page(file);
    for (const section of ["NAME", "DESCRIPTION", "PARAMETERS", "LOGGING", "SEE ALSO"]) {
      assert.match(text, new RegExp(`^\\.SH "?${section}"?$`, "m"), `${file} lacks ${section}`);
    }
  }
});

test("each daemon page lists every main.cf parameter the daemon's code reads", () => {
  for (const daemon of daemons) {
    const text = plain(page(`postern-${daemon}.8`));
    const missing = [...paramsReadBy(daemon)].filter((name) => !text.includes(name));
    assert.deepEqual(missing, [], `postern-${daemon}(8) does not document ${missing.join(", ")}`);
  }
});

test("every postern page named in SEE ALSO exists in man/", () => {
  for (const name of pages) {
    const refs = plain(page(name)).matchAll(/^\.BR (postern[\w.-]*) \((\d)\)/gm);
    for (const [, ref, section] of refs) {
      assert.ok(
        pages.includes(`${ref}.${section}`),
        `${name} refers to ${ref}(${section}), which is missing`,
      );
    }
  }
});
