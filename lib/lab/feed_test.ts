import assert from "node:assert/strict";
import { Feed } from "./feed.ts";

Deno.test("a full feed drops the oldest items and says how many", async () => {
  const feed = new Feed<number>(3);
  for (let i = 0; i < 10; i++) feed.push(i);
  feed.close();
  const got: [number, number][] = [];
  for await (const { item, dropped } of feed) got.push([item, dropped]);
  assert.deepEqual(got, [[7, 7], [8, 0], [9, 0]]);
  assert.equal(feed.totalDropped, 7);
});

Deno.test("a waiting consumer wakes on push and on abort", async () => {
  const feed = new Feed<string>(4);
  const next = feed.next();
  feed.push("a");
  assert.deepEqual(await next, { item: "a", dropped: 0 });
  const ctrl = new AbortController();
  const waiting = feed.next(ctrl.signal);
  ctrl.abort();
  assert.equal(await waiting, undefined);
  feed.close();
});
