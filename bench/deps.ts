// The benchmark's one external import. The floor program (bench/floor_client.ts)
// must load nothing but a WebSocket client, so it does not import lib/deps.ts.
// @ts-types="npm:@types/ws@8.18.2"
export { default as NodeWebSocket } from "npm:ws@8.23.0";
