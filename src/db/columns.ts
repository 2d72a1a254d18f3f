/** Column definitions every entity shares: UTC timestamps set by the ORM. */
export const createdAt = { type: 'Date', onCreate: () => new Date(), columnType: 'timestamptz' } as const;
export const updatedAt = {
  type: 'Date',
  onCreate: () => new Date(),
  onUpdate: () => new Date(),
  columnType: 'timestamptz',
} as const;
export const timestamps = { createdAt, updatedAt } as const;
