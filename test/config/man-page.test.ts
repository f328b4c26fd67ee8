import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { renderConfManPage } from "../../lib/config/describe.js";

test("man/postern.conf.5 is the page generated from the parameter table (run `npm run man`)", () => {
  const committed = readFileSync(new URL("../../../man/postern.conf.5", import.meta.url), "utf8");
  assert.equal(committed, renderConfManPage());
});
