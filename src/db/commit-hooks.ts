import type { EventSubscriber, TransactionEventArgs } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * Work a unit of work leaves for the very end of its transaction: run inside it, after the last
 * flush, right before the outermost COMMIT (so it sees every row the transaction wrote and still
 * holds its locks), and, if that work fails, the transaction rolls back with it. Then a callback
 * once the commit succeeded. The webhook outbox uses it: the environment versions an event
 * carries are only known once the change has bumped them.
 *
 * State is kept per outermost transaction: a savepoint (a nested `transactional`) shares its
 * parent's, since only the outermost COMMIT makes anything durable.
 */
export interface CommitWork<T> {
  /** The state, created on first use in a transaction (by the unit of work `em`). */
  create(em: EntityManager): T;
  /** Runs in the transaction, before COMMIT; a throw rolls the transaction back. */
  beforeCommit(em: EntityManager, state: T): Promise<void>;
  /** Runs after COMMIT succeeded; it must not throw. */
  afterCommit?(state: T): void;
}

interface Pending {
  work: CommitWork<unknown>;
  state: unknown;
}

/** The knex transaction a unit of work is in; savepoints point to their parent. */
interface KnexTransaction {
  parentTransaction?: KnexTransaction;
}

const pending = new WeakMap<object, Map<CommitWork<unknown>, Pending>>();

function outermost(trx: KnexTransaction): KnexTransaction {
  let current = trx;
  while (current.parentTransaction) current = current.parentTransaction;
  return current;
}

/**
 * The state `work` keeps for the transaction `em` is in, registering the work on first use.
 * Throws outside a transaction: there would be no commit to run it at.
 */
export function atCommit<T>(em: EntityManager, work: CommitWork<T>): T {
  const trx = em.getTransactionContext<KnexTransaction>();
  if (!trx) throw new Error('atCommit needs a transaction (call it inside em.transactional)');
  const root = outermost(trx);
  let works = pending.get(root);
  if (!works) pending.set(root, (works = new Map()));
  let entry = works.get(work as CommitWork<unknown>);
  if (!entry) {
    entry = { work: work as CommitWork<unknown>, state: work.create(em) };
    works.set(work as CommitWork<unknown>, entry);
  }
  return entry.state as T;
}

/** The ORM subscriber that runs the registered work (db/orm.ts installs it on every ORM). */
export class CommitHooks implements EventSubscriber {
  async beforeTransactionCommit(args: TransactionEventArgs): Promise<void> {
    const works = args.transaction ? pending.get(args.transaction as object) : undefined;
    if (!works) return;
    for (const { work, state } of works.values()) await work.beforeCommit(args.em as unknown as EntityManager, state);
  }

  async afterTransactionCommit(args: TransactionEventArgs): Promise<void> {
    const works = args.transaction ? pending.get(args.transaction as object) : undefined;
    if (!works) return;
    pending.delete(args.transaction as object);
    for (const { work, state } of works.values()) work.afterCommit?.(state);
  }

  async afterTransactionRollback(args: TransactionEventArgs): Promise<void> {
    if (args.transaction) pending.delete(args.transaction as object);
  }
}
