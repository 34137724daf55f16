import assert from "node:assert/strict";
import { WORDS } from "./completions.ts";
import { SUBCOMMANDS as POSITION } from "./position.ts";
import { SUBCOMMANDS as SESSION } from "./session.ts";
import { ACTIONS as TASK } from "./task.ts";

Deno.test("completion offers each verb's subcommands as the verb has them", () => {
  // The lists are written twice (a completion must not load the verbs' modules at every TAB):
  // session's once lacked note and add. A subcommand added to a verb goes into WORDS too.
  assert.deepEqual(WORDS.session, SESSION);
  assert.deepEqual(WORDS.position, POSITION);
  assert.deepEqual(WORDS.task, [...TASK]);
});
