// The runner's WebSocket client (lib/wire/transport.ts); the supervisor never loads it.
// @ts-types="npm:@types/ws@8.18.2"
export { default as NodeWebSocket } from "npm:ws@8.23.0";
