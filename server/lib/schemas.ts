// What every route's schema shares: its summary and description for /docs.
export const doc = (summary: string, description?: string) => ({ detail: { summary, ...(description ? { description } : {}) } });
