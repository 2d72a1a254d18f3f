/** How sessions are signed and how long their tokens live (from the configuration). */
export interface SessionSettings {
  jwtSecret: string;
  tokenTtlMinutes: number;
  refreshTtlHours: number;
}
