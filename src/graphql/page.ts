import type { ObjectRef } from '@pothos/core';
import { DEFAULT_LIMIT, MAX_LIMIT, type Page } from '../common/pagination.js';
import { builder } from './builder.js';

/** `<Name>Page`: the page envelope of the API reference, for any object type. */
// biome-ignore lint/suspicious/noExplicitAny: any schema type whose backing value is T
export function pageOf<T>(name: string, item: ObjectRef<any, T>) {
  return builder.objectRef<Page<T>>(`${name}Page`).implement({
    description: `A page of ${name} items.`,
    fields: (t) => ({
      data: t.field({ type: [item], resolve: (p) => p.data }),
      total: t.exposeInt('total'),
      limit: t.exposeInt('limit'),
      offset: t.exposeInt('offset'),
      hasMore: t.exposeBoolean('hasMore'),
    }),
  });
}

export const pageArgs = builder.args((t) => ({
  limit: t.int({ required: false, description: `Items per page, 1-${MAX_LIMIT}; default ${DEFAULT_LIMIT}.` }),
  offset: t.int({ required: false, description: 'Items to skip; default 0.' }),
}));
