// Construction of the frozen EvaluationResult objects that compilation prebuilds.

import type { ErrorCode, EvaluationResult, FlagDefinition, FlagEnvState, Reason } from './types.js';

export const DEPTH_EXCEEDED_MESSAGE = 'prerequisite chain too deep or cyclic';
export const TOO_COSTLY_MESSAGE = 'targeting this context takes more work than one evaluation may do';

export interface ResultExtras {
  ruleId?: string;
  prerequisiteKey?: string;
  errorCode?: ErrorCode;
  errorMessage?: string;
}

/** A frozen result; a variation index outside the flag's variations becomes an ERROR/GENERAL. */
export function makeResult(
  definition: FlagDefinition,
  state: FlagEnvState,
  variation: number | null,
  reason: Reason,
  extras: ResultExtras = {},
): EvaluationResult {
  const result: EvaluationResult = {
    key: definition.key,
    value: null,
    variation: null,
    reason,
    version: state.version,
  };
  if (variation !== null) {
    const v = Number.isInteger(variation) ? definition.variations[variation] : undefined;
    if (v === undefined) {
      return makeResult(definition, state, null, 'ERROR', {
        ...extras,
        errorCode: 'GENERAL',
        errorMessage: `variation index ${variation} does not exist`,
      });
    }
    result.value = v.value;
    result.variation = variation;
    if (typeof v.name === 'string') result.variationName = v.name;
  }
  if (extras.ruleId !== undefined) result.ruleId = extras.ruleId;
  if (extras.prerequisiteKey !== undefined) result.prerequisiteKey = extras.prerequisiteKey;
  if (extras.errorCode !== undefined) result.errorCode = extras.errorCode;
  if (extras.errorMessage !== undefined) result.errorMessage = extras.errorMessage;
  return Object.freeze(result);
}

/** ERROR result carrying the off variation's value (null when even that does not exist). */
export function errorResult(
  def: FlagDefinition,
  state: FlagEnvState,
  errorCode: ErrorCode,
  errorMessage: string,
  ruleId?: string,
): EvaluationResult {
  const off = def.variations[state.offVariation] !== undefined ? state.offVariation : null;
  const extras: ResultExtras = { errorCode, errorMessage };
  if (ruleId !== undefined) extras.ruleId = ruleId;
  return makeResult(def, state, off, 'ERROR', extras);
}
