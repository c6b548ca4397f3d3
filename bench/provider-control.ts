/** Client of the fake provider's `/control/...` endpoints (see stack/fake-provider/). */

export interface ReceivedSummary {
  total: number;
  distinctMsgIds: number;
  byOutcome: Record<string, number>;
}

export function providerControl(providerUrl: string) {
  const base = new URL(providerUrl).origin;
  const call = async <T = unknown>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${base}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!response.ok) throw new Error(`fake provider ${method} ${path}: ${response.status} ${await response.text()}`);
    return (response.status === 204 ? undefined : await response.json()) as T;
  };

  return {
    setLatency: (ms: number) => call('PUT', '/control/faults', { latencyMs: ms }),
    summary: () => call<ReceivedSummary>('GET', '/control/received'),
    clear: () => call('DELETE', '/control/received'),

    /**
     * When the earliest of these messages reached the provider (ms since the epoch). The record can
     * only be read per msgId, so callers pass the ids that are claimed first (the lowest ones).
     */
    async firstArrival(msgIds: number[]): Promise<number> {
      let first = Infinity;
      for (const id of msgIds) {
        const { entries } = await call<{ entries: { at: number }[] }>('GET', `/control/received?msgId=${id}`);
        for (const entry of entries) first = Math.min(first, entry.at);
      }
      return first;
    },
  };
}
