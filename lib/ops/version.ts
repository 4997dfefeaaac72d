/** The runner's version, reported in every heartbeat and by `version`. */
export const VERSION = "0.1.0";
