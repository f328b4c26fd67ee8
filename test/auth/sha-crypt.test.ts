/*
 * shaCrypt against the published SHA-crypt vectors and `openssl passwd -5/-6` (glibc's
 * algorithm) over key lengths around the digest sizes, salts and rounds settings; hashes
 * the unixcrypt package made (the one length case it got wrong) still verify.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { hashInThread, verifyCrypt } from "../../lib/auth/scheme-core.js";
import { shaCrypt } from "../../lib/auth/sha-crypt.js";

function openssl(id: "5" | "6", key: string, salt: string): string {
  // From stdin: an empty argument would print "<NULL>".
  const out = execFileSync("openssl", ["passwd", `-${id}`, "-salt", salt, "-stdin"], { input: `${key}\n` });
  return out.toString("utf8").trim();
}

/** Made by unixcrypt 3.0.4's encrypt(): keys of exactly 32/64/128 bytes. */
const UNIXCRYPT_MADE: readonly [string, string][] = [
  [
    "a".repeat(64),
    "$6$rounds=1000$legacysalt$YW/lk0DVfMGqwPTZ6SF5T4pxP6TH0lERaXpnumh/dXx7x7ar3ffgYAUffZuN.2lry/QTFq/IH.SxVOul5ksqB/",
  ],
  ["b".repeat(32), "$5$rounds=1000$legacysalt$c/gI/Tb/LOZnTdchrve9DHHKHQtBYY1BSce2mLNtRH7"],
  [
    "c".repeat(128),
    "$6$rounds=1000$x$83hdNFR5t6rki/kxB9kMuuHofdOe7hvjz7YPADc1d.vKJnhSPUJBTitBYAdyGCR3lNSCfCt8lPSWR1uphYrJd0",
  ],
  [
    "é".repeat(32),
    "$6$rounds=1000$utf8$CB5re63ef7YOrY2h.ZUQGMTcyfLcJMS.od1Hzhk3skV7GIzWV8RNzlHPTB5upZ9QGnkM/xCpXBcoYm1TBwBZZ/",
  ],
];

describe("shaCrypt", () => {
  it("gives the published vectors (Drepper's test cases)", () => {
    assert.equal(
      shaCrypt("Hello world!", "$5$saltstring"),
      "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5",
    );
    assert.equal(
      shaCrypt("Hello world!", "$6$saltstring"),
      "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
    );
    assert.equal(
      shaCrypt("Hello world!", "$6$rounds=10000$saltstringsaltstring"),
      "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
    );
    assert.equal(
      shaCrypt("we have a short salt string but not a short password", "$6$rounds=77777$short"),
      "$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0",
    );
  });

  it("agrees with openssl passwd for every key length around the digest sizes", () => {
    // openssl refuses an empty password; glibc's crypt() gives this for it:
    assert.equal(shaCrypt("", "$5$./09AZaz"), "$5$./09AZaz$AYezx8kZVGYgIBzax5oXoEuDJOZOiVjEpf8R87AKWj8");
    const lengths = [1, 12, 31, 32, 33, 63, 64, 65, 96, 127, 128, 129];
    for (const id of ["5", "6"] as const)
      for (const len of lengths)
        for (const salt of ["./09AZaz", "abcdefghijklmnopqrst", "rounds=1000$s"]) {
          const key = "pä§".repeat(len).slice(0, len);
          const setting = `$${id}$${salt}`;
          assert.equal(shaCrypt(key, setting), openssl(id, key, salt), `${setting} length ${len}`);
        }
  });

  it("prints rounds only when the setting gave them, clamps them, and refuses bad settings", () => {
    assert.match(shaCrypt("x", "$6$salt"), /^\$6\$salt\$/);
    assert.match(shaCrypt("x", "$6$rounds=5000$salt"), /^\$6\$rounds=5000\$salt\$/);
    assert.match(shaCrypt("x", "$6$rounds=10$salt"), /^\$6\$rounds=1000\$salt\$/);
    assert.throws(() => shaCrypt("x", "$6$bad salt"));
    assert.throws(() => shaCrypt("x", "$1$salt"));
  });

  it("makes hashes openssl reproduces, and verifies them", async () => {
    for (const [scheme, id] of [
      ["SHA256-CRYPT", "5"],
      ["SHA512-CRYPT", "6"],
    ] as const) {
      const key = "k".repeat(id === "5" ? 32 : 64); // the length unixcrypt got wrong
      const made = (await hashInThread(key, scheme, { rounds: 1000 })).replace(/^\{[^}]+\}/, "");
      const setting = made.slice(0, made.lastIndexOf("$"));
      assert.equal(openssl(id, key, setting.replace(/^\$\d\$/, "")), made);
      assert.equal(await verifyCrypt(made, key), true);
      assert.equal(await verifyCrypt(made, `${key}x`), false);
    }
  });

  it("still verifies hashes unixcrypt made, and only with their password", async () => {
    for (const [key, stored] of UNIXCRYPT_MADE) {
      assert.notEqual(shaCrypt(key, stored.slice(0, stored.lastIndexOf("$"))), stored, "differs from glibc");
      assert.equal(await verifyCrypt(stored, key), true);
      assert.equal(await verifyCrypt(stored, key.slice(1)), false);
      assert.equal(await verifyCrypt(stored, `${key.slice(1)}z`), false);
    }
  });
});
