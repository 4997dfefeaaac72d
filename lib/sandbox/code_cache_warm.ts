/**
 * The code cache warmer (lib/sandbox/code_cache.ts starts it, unconfined and
 * with no permission but to write MARKER): importing the supervised child's
 * start-up modules leaves the code V8 compiled for them in Deno's cache,
 * which the confined child can read but not write. Nothing here runs them:
 * lib/sandbox/child.ts only defines runChild. Then MARKER gets the key read
 * from stdin, so the supervisor knows this module set is warm.
 *
 * Usage: deno run --allow-write=MARKER code_cache_warm.ts MARKER < KEY
 */
// Its static graph holds the runner and the default transport (lib/wire/ws_client.ts); npm:ws
// (`--transport ws`) loads on its first dial and stays uncached, as the lazily loaded operations do.
import "./child.ts";

const [marker] = Deno.args;
const key = await new Response(Deno.stdin.readable).text();
if (marker && key) Deno.writeTextFileSync(marker, key);
