// Limits enforced by validation (and, where a runaway input could hurt, by compilation too).

export const MAX_RULES = 100;
export const MAX_CLAUSES_PER_RULE = 30;
export const MAX_VALUES_PER_CLAUSE = 1000;
export const MAX_TARGET_KEYS = 10000;
export const MAX_SEGMENT_KEYS = 10000;
export const MAX_REGEX_LENGTH = 256;
/** RE2 program size of one `matches` pattern (`@example\.com$` is 15, `[a-z]{2,63}` 126, `a{1000}` 1002). */
export const MAX_REGEX_PROGRAM_SIZE = 1000;
/** Attribute values longer than this (Unicode code points) match no `matches` pattern. */
export const MAX_MATCHES_INPUT = 1024;
export const MAX_PREREQUISITES = 50;
/** Evaluation stops following prerequisites deeper than this (validation already refuses cycles). */
export const MAX_PREREQUISITE_DEPTH = 16;
export const ROLLOUT_TOTAL_WEIGHT = 100000;
