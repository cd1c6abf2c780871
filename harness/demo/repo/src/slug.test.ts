import { test } from "node:test";
import * as assert from "node:assert";
import { slugify } from "./slug";

test("lower-cases and joins words with dashes", () => {
  assert.strictEqual(slugify("Hello World"), "hello-world");
});
