// Limits enforced by validation (and, where a runaway input could hurt, by compilation too).

export const MAX_RULES = 100;
export const MAX_CLAUSES_PER_RULE = 30;
export const MAX_VALUES_PER_CLAUSE = 1000;
export const MAX_TARGET_KEYS = 10000;
export const MAX_SEGMENT_KEYS = 10000;
export const MAX_REGEX_LENGTH = 256;
export const MAX_PREREQUISITES = 50;
/** Evaluation stops following prerequisites deeper than this (validation already refuses cycles). */
export const MAX_PREREQUISITE_DEPTH = 16;
export const ROLLOUT_TOTAL_WEIGHT = 100000;
