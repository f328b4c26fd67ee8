/*
 * The WebAssembly SHA-512 against node:crypto: every length across the first block
 * boundaries (where padding spills into a second block), long inputs that grow the memory,
 * and digests that stay valid only until the next call.
 */
import assert from "node:assert/strict";
import { hash, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { sha512Hasher } from "../../lib/auth/sha512-wasm.js";

function wasmDigest(data: Uint8Array): Buffer {
  const h = sha512Hasher();
  assert.ok(h, "WebAssembly is available under test");
  h.input(data.length).set(data);
  return Buffer.from(h.digest(data.length));
}

describe("sha512-wasm", () => {
  it("gives the FIPS 180-4 digests of the empty string and 'abc'", () => {
    assert.equal(
      wasmDigest(Buffer.alloc(0)).toString("hex"),
      "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
    );
    assert.equal(
      wasmDigest(Buffer.from("abc")).toString("hex"),
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    );
  });

  it("agrees with node:crypto for every length up to three blocks", () => {
    for (let n = 0; n <= 3 * 128 + 20; n++) {
      const data = randomBytes(n);
      assert.deepEqual(wasmDigest(data), hash("sha512", data, "buffer"), `length ${n}`);
    }
  });

  it("grows its memory for inputs beyond one page and still agrees", () => {
    for (const n of [65_000, 70_000, 300_001]) {
      const data = randomBytes(n);
      assert.deepEqual(wasmDigest(data), hash("sha512", data, "buffer"), `length ${n}`);
    }
    const small = randomBytes(50);
    assert.deepEqual(wasmDigest(small), hash("sha512", small, "buffer"));
  });

  it("hashes input laid out from its own previous digest (as SHA-crypt's rounds do)", () => {
    const h = sha512Hasher();
    assert.ok(h);
    let expected = hash("sha512", Buffer.from("seed"), "buffer");
    h.input(4).set(Buffer.from("seed"));
    let got = h.digest(4);
    for (let i = 0; i < 50; i++) {
      const next = Buffer.concat([expected, Buffer.from([i])]);
      const room = h.input(65);
      room.set(got);
      room[64] = i;
      got = h.digest(65);
      expected = hash("sha512", next, "buffer");
      assert.deepEqual(Buffer.from(got), expected, `round ${i}`);
    }
  });
});
