import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ForbiddenError, NotFoundError, shuttingDown } from '../../errors.js';
import {
  asOneBulk,
  clientSideOnly,
  type EvaluationContext,
  type EvaluationResult,
  evaluate,
  evaluateAll,
  type FlagDefinition,
} from '../../evaluation/index.js';
import type { EnvironmentEvent, EnvironmentFollower, HubUpdate } from '../../realtime/hub.js';
import type { Snapshot } from '../../realtime/snapshots.js';
import { type EventStream, Frame, lastEventIdOf, sseEvent } from '../../realtime/sse.js';
import type { KeyWatch, KeyWatcher } from '../keys/access.js';
import type { CachedSdkKey } from '../keys/cache.js';
import { presentedSdkKey, registerSdkPreflight, sdkAuth } from './auth.js';
import type { SdkDeps } from './common.js';
import { queryContext } from './context.js';
import { sameResult } from './present.js';

/**
 * The SSE bridge, `GET /v1/stream/:envKey` (ARCHITECTURE.md, step 4). Every event's `id:` is the
 * environment version. Two modes:
 *
 * - configuration (no context given): what a local-evaluating SDK needs.
 *   put    {version, flags: {<key>: {definition, state}}, segments}
 *   patch  {key, version, definition, state}          one flag changed
 *   delete {key, version}                             flag archived, deleted, or no longer client-side
 *   A segment change, or a resync after a lost LISTEN connection, sends a fresh `put`.
 * - evaluated (`?context=<base64url JSON>` or `?key=<context key>`): values for that context only.
 *   put    {version, flags: {<key>: {value, variation, reason}}}
 *   patch  {key, version, value, variation, reason}   only when this context's value changed
 *   delete {key, version}
 *
 * Who sees what follows the SDK routes: configuration mode is the live datafile (server and mobile
 * keys, every flag; a client-side ID is refused, since public code must not read server-only flags
 * or anyone's targeting rules); evaluated mode is the live `/v1/client/:envKey/flags` (a server
 * key sees every flag; mobile keys and client-side IDs only client-side flags). A reconnect
 * with `Last-Event-ID` older than the current version gets a `put` first; an up-to-date one gets
 * nothing replayed. The transport (heartbeats, slow readers, shutdown) is realtime/sse.ts.
 */

/** Configuration-mode encodings, memoized per snapshot and per update: once, not once per stream. */
const puts = new WeakMap<Snapshot, Frame>();

function configPut(snapshot: Snapshot): Frame {
  let known = puts.get(snapshot);
  if (known) return known;
  known = new Frame(
    sseEvent(snapshot.version, 'put', {
      version: snapshot.version,
      flags: Object.fromEntries(
        snapshot.data.flags.map((f) => [f.definition.key, { definition: f.definition, state: f.state }]),
      ),
      segments: snapshot.data.segments,
    }),
  );
  puts.set(snapshot, known);
  return known;
}

function configChanges(update: HubUpdate): Frame {
  const known = update.memo.get('sse:changes') as Frame | undefined;
  if (known !== undefined) return known;
  const current = update.current!;
  let out: Frame | string = '';
  if (!update.change || update.segmentsChanged) {
    out = configPut(current);
  } else {
    const before = new Set((update.previous?.data.flags ?? []).map((f) => f.definition.key));
    for (const delta of update.flags) {
      if (!delta.config && !before.has(delta.key)) continue;
      out += delta.config
        ? sseEvent(current.version, 'patch', {
            key: delta.key,
            version: current.version,
            definition: delta.config.definition,
            state: delta.config.state,
          })
        : sseEvent(current.version, 'delete', { key: delta.key, version: current.version });
    }
  }
  const frame = typeof out === 'string' ? new Frame(out) : out;
  update.memo.set('sse:changes', frame);
  return frame;
}

const resultValue = (r: EvaluationResult) => ({
  value: r.value,
  variation: r.variation,
  reason: r.reason,
  ...(r.errorCode ? { errorCode: r.errorCode } : {}),
});

/** Evaluated mode when the request names a context (`?context=` base64url JSON, or `?key=`). */
function contextOf(query: Record<string, unknown>): EvaluationContext | null {
  const q = query as { context?: string; key?: string };
  return q.context === undefined && q.key === undefined ? null : queryContext(q);
}

export function registerStreamRoute(app: FastifyInstance, deps: SdkDeps) {
  const path = '/v1/stream/:envKey';
  registerSdkPreflight(app, [path]);
  app.get(path, {
    config: { checksOwnInput: true },
    preHandler: sdkAuth(deps.access, deps.evaluationLimit, {
      kinds: ['client', 'mobile', 'server'],
      pathParam: 'envKey',
    }),
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      const key = req.sdkKey!;
      const context = contextOf(req.query as Record<string, unknown>);
      if (!context && key.kind === 'client') {
        throw new ForbiddenError(
          'a client-side ID streams evaluated values only: give ?key=<context key> or ?context=<base64url JSON>',
        );
      }
      const snapshot = deps.snapshots.get(key.environmentId);
      if (!snapshot) throw new NotFoundError('environment');
      if (deps.hub.isClosing) throw shuttingDown();
      const presented = presentedSdkKey(req) ?? (req.params as { envKey: string }).envKey;
      const lastEventId = lastEventIdOf(req.headers['last-event-id']);
      follow(app.eventStreams.open(reply), key, presented, snapshot, context, lastEventId);
    },
  });

  function follow(
    stream: EventStream,
    key: CachedSdkKey,
    presented: string,
    snapshot: Snapshot,
    context: EvaluationContext | null,
    lastEventId: number | null,
  ) {
    const filter = key.kind === 'server' ? undefined : clientSideOnly;
    // Evaluated mode remembers what this context was last told; configuration mode needs nothing.
    const values = context ? new Map(evaluateAll(snapshot.compiled, context, filter).map((r) => [r.key, r])) : null;
    // An id ahead of this node's version was sent by a node that is ahead of this one: the
    // change on its way here brings what is missing.
    const upToDate = lastEventId !== null && lastEventId >= snapshot.version;
    if (!upToDate) {
      stream.write(
        values
          ? sseEvent(snapshot.version, 'put', {
              version: snapshot.version,
              flags: Object.fromEntries([...values].map(([k, r]) => [k, resultValue(r)])),
            })
          : configPut(snapshot),
      );
    }
    new StreamFollower(deps, stream, key, presented, context, filter, values);
  }
}

/**
 * What keeps one stream fed: it follows the environment and watches the key, as one object with
 * its methods on the prototype (an idle stream holds no closure), and lets go when the stream ends.
 */
class StreamFollower implements EnvironmentFollower, KeyWatcher {
  private readonly watch: KeyWatch;
  private readonly environmentId: string;

  constructor(
    private readonly deps: SdkDeps,
    private readonly stream: EventStream,
    key: CachedSdkKey,
    presented: string,
    private readonly context: EvaluationContext | null,
    private readonly filter: ((definition: FlagDefinition) => boolean) | undefined,
    /** Evaluated mode: what this context was last told, by flag key; null in configuration mode. */
    private values: Map<string, EvaluationResult> | null,
  ) {
    this.environmentId = key.environmentId;
    this.watch = deps.access.watch(presented, key, this);
    deps.hub.follow(this.environmentId, this);
    stream.onClose(this);
  }

  keyEnded(): void {
    this.stream.end(': the API key is no longer valid\n\n');
  }

  dispose(): void {
    this.watch.dispose();
    this.deps.hub.unfollow(this.environmentId, this);
  }

  environmentEvent(event: EnvironmentEvent): void {
    if (event.type === 'keys') {
      this.watch.recheck();
      return;
    }
    const { update } = event;
    const current = update.current;
    const stream = this.stream;
    if (!current) {
      stream.end(': the environment was deleted\n\n');
      return;
    }
    if (!this.watch.stillValid()) return;
    const values = this.values;
    if (!values) {
      stream.write(configChanges(update));
      return;
    }
    const { context, filter } = this;
    let out = '';
    const patch = (result: EvaluationResult) => {
      const before = values.get(result.key);
      if (!before || !sameResult(before, result))
        out += sseEvent(current.version, 'patch', {
          key: result.key,
          version: current.version,
          ...resultValue(result),
        });
    };
    if (update.affected !== null) {
      // Only the flags the change can have moved are evaluated again, within one bulk's work.
      const affected = update.affected;
      asOneBulk(() => {
        for (const flagKey of affected) {
          const flag = current.compiled.flags.get(flagKey);
          if (flag && (!filter || filter(flag.definition))) {
            const result = evaluate(current.compiled, flagKey, context);
            patch(result);
            values.set(flagKey, result);
          } else if (values.delete(flagKey)) {
            out += sseEvent(current.version, 'delete', { key: flagKey, version: current.version });
          }
        }
      });
    } else {
      const next = evaluateAll(current.compiled, context, filter);
      const seen = new Set<string>();
      for (const result of next) {
        seen.add(result.key);
        patch(result);
      }
      for (const key of values.keys()) {
        if (!seen.has(key)) out += sseEvent(current.version, 'delete', { key, version: current.version });
      }
      this.values = new Map(next.map((r) => [r.key, r]));
    }
    if (out) stream.write(out);
  }
}
