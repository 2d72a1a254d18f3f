// Vexil evaluation engine: pure, no I/O. Compile an environment once, evaluate many times.
// Reference: docs/evaluation.md.

export { BUCKET_COUNT, bucketableValue, bucketInput, bucketOf, pickWeighted } from './bucketing.js';
export type { CompiledEnvironment, CompiledFlag } from './compile.js';
export { COMPILE_CHUNK, compileEnvironment, compileEnvironmentSteps } from './compile.js';
export {
  asOneBulk,
  clientSideOnly,
  evaluate,
  evaluateAll,
  evaluateFlag,
  FLAG_WORK,
  isValidContext,
  REQUEST_WORK,
} from './evaluate.js';
export type { AppliedChange, EnvironmentChange } from './incremental.js';
export { applyEnvironmentChange } from './incremental.js';
export * from './limits.js';
export { murmur3_x86_32, murmur3String } from './murmur3.js';
export type * from './types.js';
export { FLAG_KINDS, OPERATORS } from './types.js';
export type { StateValidationContext } from './validate.js';
export {
  findPrerequisiteCycle,
  validateEnvironment,
  validateFlagDefinition,
  validateFlagState,
  validateSegment,
} from './validate.js';
export { parseDate, parseSemver, regexProblem } from './values.js';
