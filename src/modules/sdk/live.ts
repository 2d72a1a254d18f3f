import { type DocumentNode, type ExecutionResult, GraphQLError, getOperationAST, Kind } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { NotFoundError, shuttingDown, UnauthenticatedError, ValidationError } from '../../errors.js';
import {
  asOneBulk,
  clientSideOnly,
  type EvaluationResult,
  evaluate,
  evaluateAll,
  type FlagDefinition,
} from '../../evaluation/index.js';
import { builder } from '../../graphql/builder.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { rateLimited } from '../../graphql/limits.js';
import type { EnvironmentEvent, EnvironmentFollower, Hub, HubUpdate, OpenStream } from '../../realtime/hub.js';
import { EventQueue, StreamEnded } from '../../realtime/queue.js';
import type { Snapshot, SnapshotStore } from '../../realtime/snapshots.js';
import { MAX_BUFFERED_BYTES } from '../../realtime/streams.js';
import type { DirectPlan, DirectSink, DirectStream, DirectSubscriptions } from '../../realtime/ws.js';
import { budgetOf, INVALID_SDK_KEY, type KeyWatch, type KeyWatcher, type SdkAccess } from '../keys/access.js';
import type { CachedSdkKey } from '../keys/cache.js';
import { contextProblem } from './context.js';
import { sameResult, sameResults } from './present.js';

/**
 * `flagValues`, the SDK subscription (graphql-ws on /graphql, and GraphQL over SSE): one
 * context's evaluated values, sent at once and again whenever one of them changes, from the
 * hub's snapshot updates. The stream ends when the key stops being valid. This file also holds
 * its graphql-ws fast path (flagValuesFastPath), which skips per-event execution.
 */

/** Small ids for engine results (compiled results are shared objects, so equal outcomes are one object). */
const resultIds = new WeakMap<EvaluationResult, number>();
let lastResultId = 0;

function resultId(result: EvaluationResult): number {
  let id = resultIds.get(result);
  if (id === undefined) resultIds.set(result, (id = ++lastResultId));
  return id;
}

function sameItems(a: readonly EvaluationResult[], b: readonly EvaluationResult[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The memo's one array for these results: contexts that evaluate alike (most do) share it, so
 * what is built from it (the projected message, its bytes) is built once per memo, and lists
 * patched from it later are shared too. Keyed by a hash of the result ids (a key the size of
 * the list would cost as much memory as the list, per distinct list), confirmed item by item.
 */
export function sharedValues(
  memo: Map<string, unknown>,
  results: EvaluationResult[],
  maxLists = Number.POSITIVE_INFINITY,
): EvaluationResult[] {
  let hash = 0x811c9dc5 ^ results.length;
  for (const result of results) hash = Math.imul(hash ^ resultId(result), 0x01000193);
  const signature = `flagValues:list:${hash >>> 0}`;
  let bucket = memo.get(signature) as EvaluationResult[][] | undefined;
  if (bucket !== undefined) for (const known of bucket) if (sameItems(known, results)) return known;
  // A full memo still shares what it holds, and keeps nothing more.
  if (memo.size >= maxLists) return results;
  if (bucket === undefined) memo.set(signature, (bucket = []));
  bucket.push(results);
  return results;
}

/**
 * Per snapshot, the value lists new subscriptions start from: subscribers that connect to the
 * same snapshot with contexts that evaluate alike start from one list, so every later update
 * patches it once for all of them (patchedValues shares lists derived alike). A snapshot can
 * live long while subscribers come and go with contexts of their choosing, so it keeps at most
 * INITIAL_LISTS distinct lists (released with the snapshot); later ones are just not shared.
 */
const initialLists = new WeakMap<Snapshot, Map<string, unknown>>();
const INITIAL_LISTS = 1_000;

function initialValues(snapshot: Snapshot, results: EvaluationResult[]): EvaluationResult[] {
  let memo = initialLists.get(snapshot);
  if (memo === undefined) initialLists.set(snapshot, (memo = new Map()));
  return sharedValues(memo, results, INITIAL_LISTS);
}

const FlagValueType = builder.objectRef<EvaluationResult>('FlagValue').implement({
  description: "One flag evaluated for the subscriber's context.",
  fields: (t) => ({
    key: t.string({ resolve: (r) => r.key }),
    value: t.field({ type: 'JSON', nullable: true, resolve: (r) => r.value }),
    variation: t.int({
      nullable: true,
      description: "Index into the flag's variations; null on errors.",
      resolve: (r) => r.variation,
    }),
    reason: t.string({
      description: 'STATIC, DISABLED, TARGETING_MATCH, SPLIT, DEFAULT or ERROR.',
      resolve: (r) => r.reason,
    }),
    errorCode: t.string({ nullable: true, resolve: (r) => r.errorCode ?? null }),
  }),
});

/** Where each key sits in a shared value list (lists derived in place share it). */
const positionsOf = new WeakMap<readonly EvaluationResult[], Map<string, number>>();

function positions(list: readonly EvaluationResult[]): Map<string, number> {
  let known = positionsOf.get(list);
  if (known === undefined) positionsOf.set(list, (known = new Map(list.map((r, i) => [r.key, i]))));
  return known;
}

/**
 * One update's patched lists, per list patched: a trie over the results of the update's
 * affected flags in their order (a flag whose result did not change contributes the list's own
 * entry), so a subscriber's lookup is a few identity lookups, not a key built and hashed.
 */
interface PatchNode {
  /** Where this step of the path sits in the list, and the result it puts there. */
  index: number;
  result: EvaluationResult | null;
  parent: PatchNode | null;
  next?: EvaluationResult[];
  children?: Map<EvaluationResult, PatchNode>;
}

const PATCHES = 'flagValues:patches';

/**
 * `last` after an incremental update: only the affected flags are evaluated again, in place.
 * Null when a flag entered or left what the subscriber sees (the list must be rebuilt), and
 * `last` itself when nothing the subscriber sees changed. Lists derived alike from one shared
 * list are one list, as sharedValues makes them for whole evaluations. The affected flags are
 * evaluated within one bulk's work, as a whole evaluation would be.
 */
function patchedValues(
  update: HubUpdate,
  last: EvaluationResult[],
  context: unknown,
  filter: ((definition: FlagDefinition) => boolean) | undefined,
): EvaluationResult[] | null {
  const current = update.current!.compiled;
  const previous = update.previous?.compiled;
  const at = positions(last);
  let patches = update.memo.get(PATCHES) as Map<EvaluationResult[], PatchNode> | undefined;
  if (patches === undefined) update.memo.set(PATCHES, (patches = new Map()));
  let node = patches.get(last);
  if (node === undefined) patches.set(last, (node = { index: -1, result: null, parent: null }));
  let changed = false;
  const reached = asOneBulk(() => {
    for (const key of update.affected!) {
      const now = current.flags.get(key);
      const visible = now !== undefined && (!filter || filter(now.definition));
      const index = at.get(key);
      if (visible !== (index !== undefined)) return null;
      if (index === undefined) continue;
      if (previous?.flags.get(key) === undefined) return null;
      const was = last[index]!;
      const evaluated = evaluate(current, key, context);
      const result = sameResult(was, evaluated) ? was : evaluated;
      if (result !== was) changed = true;
      node!.children ??= new Map();
      let child = node!.children.get(result);
      if (child === undefined) node!.children.set(result, (child = { index, result, parent: node! }));
      node = child;
    }
    return node!;
  });
  if (reached === null) return null;
  if (!changed) return last;
  if (reached.next !== undefined) return reached.next;
  // The first subscriber to reach this outcome builds its list from the path it took.
  const next = last.slice();
  for (let step: PatchNode | null = reached; step !== null && step.result !== null; step = step.parent)
    next[step.index] = step.result;
  positionsOf.set(next, at);
  return (reached.next = next);
}

/** The source stream of one `flagValues` subscription: value lists, then maybe its end. */
type FlagValuesQueue = EventQueue<EvaluationResult[] | StreamEnded>;

/**
 * What keeps one `flagValues` subscription's queue fed: it follows the environment, watches the
 * key, and is ended by shutdown, as one object with its methods on the prototype (an idle
 * subscriber holds no closure). It lets go of all three when the queue closes.
 */
class FlagValuesFollower implements EnvironmentFollower, OpenStream, KeyWatcher {
  private readonly watch: KeyWatch;
  private readonly environmentId: string;

  constructor(
    private readonly hub: Hub,
    access: SdkAccess,
    presented: string,
    key: CachedSdkKey,
    private readonly queue: FlagValuesQueue,
    private readonly context: unknown,
    private readonly filter: ((definition: FlagDefinition) => boolean) | undefined,
    /** The values this subscriber was last sent. */
    private last: EvaluationResult[],
  ) {
    this.environmentId = key.environmentId;
    this.watch = access.watch(presented, key, this);
    hub.follow(this.environmentId, this);
    hub.hold(this);
    queue.onClose(this);
  }

  /**
   * Subscribers with the same visibility and context share one evaluation per full update (the
   * update's memo is per environment): a result array is then shared, never mutated. Only full
   * updates ask, so the key is not kept.
   */
  private get group(): string {
    return `flagValues:${this.filter ? 'client' : 'server'}:${JSON.stringify(this.context)}`;
  }

  environmentEvent(event: EnvironmentEvent): void {
    if (event.type === 'keys') {
      this.watch.recheck();
      return;
    }
    const current = event.update.current;
    if (!current) {
      this.queue.end();
      return;
    }
    if (!this.watch.stillValid()) return;
    const { update } = event;
    const { last, context, filter } = this;
    // Incremental updates evaluate only what they may have moved; others evaluate everything.
    const patched = update.affected !== null ? patchedValues(update, last, context, filter) : null;
    if (patched === last) return;
    let next = patched;
    if (next === null) {
      const group = this.group;
      next = (update.memo.get(group) as EvaluationResult[] | undefined) ?? null;
      if (next === null)
        update.memo.set(group, (next = sharedValues(update.memo, evaluateAll(current.compiled, context, filter))));
    }
    if (next !== last && (patched !== null || !sameResults(last, next))) {
      this.last = next;
      this.queue.push(next);
    }
  }

  keyEnded(): void {
    this.queue.push(new StreamEnded(new UnauthenticatedError(INVALID_SDK_KEY)));
    this.queue.end();
  }

  shutdown(): void {
    this.queue.end();
  }

  dispose(): void {
    this.watch.dispose();
    this.hub.unfollow(this.environmentId, this);
    this.hub.release(this);
  }
}

builder.subscriptionField('flagValues', (t) =>
  t.field({
    type: [FlagValueType],
    description:
      "For SDK-key clients: every flag's value for this context, sent at once and again whenever one of them changes. A server key sees every flag; mobile keys and client-side IDs only client-side flags. The stream ends when the key stops being valid.",
    args: {
      context: t.arg({
        type: 'JSON',
        required: true,
        description: 'The evaluation context, e.g. {"key": "user-1", "country": "NL"}.',
      }),
    },
    // An SDK client's evaluation budget, as on the SDK routes (invalid keys: the caller's IP).
    extensions: rateLimited({
      budget: 'evaluation',
      key: (ctx) =>
        budgetOf(
          ctx.services.sdkAccess.checkInMemory(ctx.sdkCredential, ['server', 'mobile', 'client']) ?? null,
          ctx.sdkCredential,
          ctx.clientIp,
        ),
    }),
    subscribe: async (_root, { context }, ctx) => {
      const { hub, snapshots, sdkAccess } = ctx.services;
      const verdict = await sdkAccess.check(ctx.sdkCredential, ['server', 'mobile', 'client']);
      if (verdict instanceof Error) throw verdict;
      const key = verdict;
      const problem = contextProblem(context);
      if (problem) throw new ValidationError(problem);
      const snapshot = snapshots.get(key.environmentId);
      if (!snapshot) throw new NotFoundError('environment');
      if (hub.isClosing) throw shuttingDown();
      // As on /v1/client: a server key sees every flag, mobile keys and client-side IDs client-side ones.
      const filter = key.kind === 'server' ? undefined : clientSideOnly;

      const queue: FlagValuesQueue = new EventQueue<EvaluationResult[] | StreamEnded>();
      const last = initialValues(snapshot, evaluateAll(snapshot.compiled, context, filter));
      queue.push(last);
      new FlagValuesFollower(hub, sdkAccess, ctx.sdkCredential.presented!, key, queue, context, filter, last);
      return queue;
    },
    resolve: (values) => {
      if (values instanceof StreamEnded) throw values.error;
      return values;
    },
  }),
);

// ---------------------------------------------------------------------------------------------
// flagValues over graphql-ws without per-event execution
//
// A `flagValues` subscription selecting only scalar fields of FlagValue (aliases allowed; no
// fragments, no directives) gets its events projected straight into the result graphql-js would
// build: same keys, same order, same values. Subscribing still goes through yoga's envelop (auth,
// validation, the resolver's checks, error masking); only the per-event `execute` is skipped.
// An event that ends the stream (a key revoked) is executed as usual: the same error.

type FlagValueField = 'key' | 'value' | 'variation' | 'reason' | 'errorCode' | '__typename';
const FLAG_VALUE_FIELDS = new Set<string>(['key', 'value', 'variation', 'reason', 'errorCode', '__typename']);

/** Builds `{data: {<alias>: [...]}}` from evaluated values; one per distinct selection. */
class FlagValuesProjector implements DirectPlan {
  /** Results by value list: subscribers that share an evaluation share the projected result. */
  private readonly done = new WeakMap<readonly EvaluationResult[], ExecutionResult>();
  private readonly encoded = new WeakMap<readonly EvaluationResult[], Buffer>();

  constructor(
    private readonly responseKey: string,
    private readonly fields: readonly (readonly [string, FlagValueField])[],
  ) {}

  /**
   * A `next` message's payload and closing brace as bytes, once per value list: subscribers
   * with the same values share one buffer, and only the head naming their operation is theirs.
   */
  payload(values: readonly EvaluationResult[]): Buffer {
    let known = this.encoded.get(values);
    if (known === undefined)
      this.encoded.set(values, (known = Buffer.from(`${JSON.stringify(this.project(values))}}`, 'utf8')));
    return known;
  }

  /** The plan of every operation with this selection: its stream served directly. */
  serve(source: AsyncIterable<unknown>, sink: DirectSink): DirectStream | null {
    if (!(source instanceof EventQueue)) return null;
    return new ProjectedFlagValues(source as FlagValuesQueue, this, sink);
  }

  project(values: readonly EvaluationResult[]): ExecutionResult {
    const known = this.done.get(values);
    if (known) return known;
    const list = new Array<Record<string, unknown>>(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      const item: Record<string, unknown> = {};
      for (const [alias, field] of this.fields) {
        if (alias in item) continue;
        item[alias] =
          field === '__typename'
            ? 'FlagValue'
            : field === 'errorCode'
              ? (v.errorCode ?? null)
              : field === 'value'
                ? (v.value ?? null)
                : v[field];
      }
      list[i] = item;
    }
    const result: ExecutionResult = { data: { [this.responseKey]: list } };
    this.done.set(values, result);
    return result;
  }
}

const projectors = new Map<string, FlagValuesProjector>();

/** The projector for a document, or null when it needs the general path. */
export function flagValuesProjector(
  document: DocumentNode,
  operationName: string | null | undefined,
): FlagValuesProjector | null {
  if (document.definitions.length !== 1) return null;
  const operation = getOperationAST(document, operationName);
  if (operation?.operation !== 'subscription' || operation.directives?.length) return null;
  const selections = operation.selectionSet.selections;
  if (selections.length !== 1) return null;
  const root = selections[0]!;
  if (root.kind !== Kind.FIELD || root.name.value !== 'flagValues' || root.directives?.length || !root.selectionSet)
    return null;
  const fields: [string, FlagValueField][] = [];
  for (const selection of root.selectionSet.selections) {
    if (
      selection.kind !== Kind.FIELD ||
      selection.directives?.length ||
      selection.arguments?.length ||
      selection.selectionSet
    )
      return null;
    if (!FLAG_VALUE_FIELDS.has(selection.name.value)) return null;
    fields.push([selection.alias?.value ?? selection.name.value, selection.name.value as FlagValueField]);
  }
  const responseKey = root.alias?.value ?? root.name.value;
  const signature = JSON.stringify([responseKey, fields]);
  let projector = projectors.get(signature);
  if (!projector) {
    if (projectors.size > 1_000) projectors.clear();
    projectors.set(signature, (projector = new FlagValuesProjector(responseKey, fields)));
  }
  return projector;
}

/**
 * The subscription served on the socket directly (realtime/ws.ts `DirectStream`): once started,
 * every value list goes out as the `next` message graphql-ws would send, its JSON built once per
 * shared evaluation, so a send costs one write instead of a chain of promises and a
 * serialization per subscriber, and an idle subscription holds no suspended frame. Anything
 * else (the stream's end for a revoked key) is executed exactly as the general path does and
 * handed to `done`, which sends it and completes the operation. Order holds: value lists go out
 * directly only while nothing else is queued before them.
 */
class ProjectedFlagValues implements DirectStream {
  private readonly prefix: string;
  /** Started and not yet finished or returned: `finish` tells the sink once. */
  private live = false;

  constructor(
    private readonly source: FlagValuesQueue,
    private readonly projector: FlagValuesProjector,
    private readonly sink: DirectSink,
  ) {
    this.prefix = `{"id":${JSON.stringify(sink.id)},"type":"next","payload":`;
  }

  /** The queue's direct reader: a value list goes out at once; anything else is queued. */
  divert(item: unknown): boolean {
    if (!Array.isArray(item)) return false;
    const { socket } = this.sink;
    if (!this.sink.send(this.prefix, this.projector.payload(item))) return true;
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES)
      socket.close(CloseCode.InternalServerError, 'the client is not reading');
    return true;
  }

  start(): void {
    this.live = true;
    this.wake();
  }

  /** Sends what is queued, then lets later value lists bypass the queue until something else comes. */
  wake(): void {
    this.source.direct = null;
    for (let head = this.source.take(); head !== undefined; head = this.source.take()) {
      if (this.divert(head)) continue;
      this.sink.executeEvent(head).then(
        (result) => this.finish(result),
        // Masked on the way out, as any error the general path would send.
        (error: unknown) =>
          this.finish({ errors: [new GraphQLError(String(error), { originalError: error as Error })] }),
      );
      return;
    }
    if (this.source.over) {
      this.finish();
      return;
    }
    this.source.direct = this;
    this.source.whenReadable(this);
  }

  private finish(last?: ExecutionResult): void {
    const live = this.live;
    this.live = false;
    void this.source.return();
    if (live) this.sink.done(last);
  }

  /** Pulled as an iterator (nothing in this server does once a stream has started): projected values. */
  async next(): Promise<IteratorResult<ExecutionResult>> {
    const head = await this.source.peek();
    if (head === undefined) return this.return();
    this.source.take();
    if (Array.isArray(head)) return { done: false, value: this.projector.project(head) };
    return { done: false, value: await this.sink.executeEvent(head) };
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    this.source.direct = null;
    this.live = false;
    await this.source.return();
    return { done: true, value: undefined };
  }

  throw(): Promise<IteratorResult<ExecutionResult>> {
    return this.return();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** The graphql-ws fast path for `flagValues` (wired into realtime/ws.ts by app.ts). */
export const flagValuesFastPath: DirectSubscriptions = {
  plan(document, operationName) {
    return flagValuesProjector(document, operationName);
  },
};

/** A graphql-ws connection that presents an SDK key must present a valid one (4401) from an allowed origin (4403). */
export async function sdkKeyConnectionCheck(context: GraphQLContext): Promise<void> {
  if (!context.sdkCredential.presented) return;
  const verdict = await context.services.sdkAccess.check(context.sdkCredential, ['server', 'mobile', 'client']);
  if (verdict instanceof Error) throw verdict;
}

declare module '../../graphql/context.js' {
  interface ContextServices {
    hub: Hub;
    snapshots: SnapshotStore;
    sdkAccess: SdkAccess;
  }
}
