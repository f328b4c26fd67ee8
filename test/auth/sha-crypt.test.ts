/*
 * shaCrypt against the published SHA-crypt vectors and against unixcrypt (which makes the
 * stored hashes), over key lengths around the digest sizes, salt lengths and rounds settings.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encrypt } from "unixcrypt";
import { shaCrypt } from "../../lib/auth/sha-crypt.js";

describe("shaCrypt", () => {
  it("gives the published vectors (Drepper's test cases; openssl passwd -5/-6 agrees)", () => {
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
  });

  it("gives unixcrypt's string for every key length, salt and rounds setting", () => {
    const salts = ["", "a", "./09AZaz", "abcdefghijklmnop", "abcdefghijklmnopqrst"];
    const lengths = [0, 1, 12, 31, 32, 33, 63, 64, 65, 96, 128, 129];
    for (const id of ["5", "6"])
      for (const len of lengths)
        for (const salt of salts)
          for (const rounds of ["rounds=1000$", "rounds=10$", "rounds=1001$"]) {
            const key = "pä§".repeat(len).slice(0, len);
            const setting = `$${id}$${rounds}${salt}`;
            assert.equal(shaCrypt(key, setting), encrypt(key, setting), `${setting} length ${len}`);
          }
    assert.equal(shaCrypt("x", "$6$salt"), encrypt("x", "$6$salt")); // default rounds, not printed
    assert.equal(shaCrypt("x", "$6$rounds=5000$salt"), encrypt("x", "$6$rounds=5000$salt")); // printed when given
  });

  it("refuses what unixcrypt refuses", () => {
    assert.throws(() => shaCrypt("x", "$6$bad salt"));
    assert.throws(() => shaCrypt("x", "$1$salt"));
    assert.throws(() => encrypt("x", "$6$bad salt"));
  });
});
