/**
 * What `version` prints. tools/compile.ts may overwrite COMMIT and BUILT for
 * a release build; from source both read "dev".
 */
import { VERSION } from "./version.ts";

export const COMMIT = "dev";
export const BUILT = "dev";

/** `flashduty-runner 0.1.0 (commit dev, built dev, deno 2.9.6 linux/x86_64)` */
export function versionText(): string {
  return `flashduty-runner ${VERSION} (commit ${COMMIT}, built ${BUILT}, deno ${Deno.version.deno} ` +
    `${Deno.build.os}/${Deno.build.arch})`;
}
