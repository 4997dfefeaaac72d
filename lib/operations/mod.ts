/**
 * Every task operation the runner serves, by its wire name
 * (`task.request.operation`). One module each, named for the operation.
 */
import type { OperationHandler } from "../tasks/context.ts";
import { read } from "./read.ts";
import { write } from "./write.ts";
import { list } from "./list.ts";
import { glob } from "./glob.ts";
import { grep } from "./grep.ts";
import { bash } from "./bash.ts";
import { webfetch } from "./webfetch.ts";
import { mcp_call } from "./mcp_call.ts";
import { mcp_list_tools } from "./mcp_list_tools.ts";
import { sync_skill } from "./sync_skill.ts";

export const OPERATIONS: Readonly<Record<string, OperationHandler>> = Object.freeze({
  read,
  write,
  list,
  glob,
  grep,
  bash,
  webfetch,
  mcp_call,
  mcp_list_tools,
  sync_skill,
});
