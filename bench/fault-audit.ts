import type { ReceivedRequest } from '../stack/fake-provider';

/**
 * What the provider's own record says about one mailing's messages: the same count as the `audit`
 * of test/faults/support.ts (bench/ does not import from test/), plus when the last delivery came.
 */
export function auditDeliveries(received: ReceivedRequest[], messageIds: Set<number>, phones: string[], endAt: number) {
  const requests = received.filter((r) => messageIds.has(r.msgId));
  const okByMsgId = new Map<number, number>();
  const msgIdsByPhone = new Map<string, Set<number>>();
  const deliveredPhones = new Set<string>();
  const byOutcome: Record<string, number> = {};
  const deliveryTimes: number[] = [];
  for (const r of requests) {
    const phone = String(r.phone);
    byOutcome[r.outcome] = (byOutcome[r.outcome] ?? 0) + 1;
    let ids = msgIdsByPhone.get(phone);
    if (!ids) msgIdsByPhone.set(phone, (ids = new Set()));
    ids.add(r.msgId);
    if (r.outcome !== 'ok') continue;
    okByMsgId.set(r.msgId, (okByMsgId.get(r.msgId) ?? 0) + 1);
    deliveredPhones.add(phone);
    deliveryTimes.push(r.at);
  }
  deliveryTimes.sort((a, b) => a - b);
  // The longest times between two deliveries: when the mailing stood still, and for how long.
  const pauses: { ms: number; from: number }[] = [];
  for (let i = 1; i < deliveryTimes.length; i++) pauses.push({ ms: deliveryTimes[i] - deliveryTimes[i - 1], from: deliveryTimes[i - 1] });
  const longestPauses = pauses.sort((a, b) => b.ms - a.ms).slice(0, 3);
  return {
    requests: requests.length,
    byOutcome,
    delivered: deliveredPhones.size,
    /** msgIds the provider accepted more than once (only an answer lost with a killed worker may cause that). */
    deliveredTwice: [...okByMsgId.values()].filter((n) => n > 1).length,
    /** Clients that received two different messages of the mailing: must never happen. */
    clientsWithTwoMessages: [...msgIdsByPhone.values()].filter((ids) => ids.size > 1).length,
    /** Requests that reached the provider at or after the mailing's end. */
    late: requests.filter((r) => r.at >= endAt).length,
    lost: phones.filter((p) => !deliveredPhones.has(p)).length,
    /** When the provider accepted the last message, ms since the epoch (NaN if none). */
    lastDeliveryAt: deliveryTimes.length ? deliveryTimes[deliveryTimes.length - 1] : NaN,
    firstDeliveryAt: deliveryTimes.length ? deliveryTimes[0] : NaN,
    longestPauses,
  };
}

/** Messages the provider accepted so far (distinct msgIds): the fault run's progress measure. */
export function deliveredSoFar(received: ReceivedRequest[]): number {
  const ok = new Set<number>();
  for (const r of received) if (r.outcome === 'ok') ok.add(r.msgId);
  return ok.size;
}
