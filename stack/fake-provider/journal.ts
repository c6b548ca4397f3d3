/** What the fake provider received, in arrival order. */
import { OUTCOMES, type Outcome } from './faults';

export interface ReceivedRequest {
  msgId: number;
  phone: number;
  text: string;
  /** When the request was received, ms since the epoch. */
  at: number;
  outcome: Outcome;
}

/**
 * The record, kept in columns: ~30 bytes a request plus one copy of each distinct text (a mailing
 * sends one text to many phones), so 100k+ requests stay cheap.
 */
export class Journal {
  length = 0;
  private numbers = new Float64Array(3 * 1024); // msgId, phone, at
  private textIds = new Uint32Array(1024);
  private outcomes = new Uint8Array(1024);
  private texts: string[] = [];
  private textIndex = new Map<string, number>();

  add(msgId: number, phone: number, text: string, at: number, outcome: Outcome) {
    if (this.length === this.outcomes.length) {
      this.numbers = doubled(this.numbers);
      this.textIds = doubled(this.textIds);
      this.outcomes = doubled(this.outcomes);
    }
    let textId = this.textIndex.get(text);
    if (textId === undefined) this.textIndex.set(text, (textId = this.texts.push(text) - 1));
    const i = this.length++;
    this.numbers[3 * i] = msgId;
    this.numbers[3 * i + 1] = phone;
    this.numbers[3 * i + 2] = at;
    this.textIds[i] = textId;
    this.outcomes[i] = OUTCOMES.indexOf(outcome);
  }

  entries(msgId?: number): ReceivedRequest[] {
    const entries: ReceivedRequest[] = [];
    for (let i = 0; i < this.length; i++) {
      if (msgId !== undefined && this.numbers[3 * i] !== msgId) continue;
      entries.push({
        msgId: this.numbers[3 * i],
        phone: this.numbers[3 * i + 1],
        text: this.texts[this.textIds[i]],
        at: this.numbers[3 * i + 2],
        outcome: OUTCOMES[this.outcomes[i]],
      });
    }
    return entries;
  }

  countsByMsgId() {
    const counts = new Map<number, number>();
    for (let i = 0; i < this.length; i++) counts.set(this.numbers[3 * i], (counts.get(this.numbers[3 * i]) ?? 0) + 1);
    return counts;
  }

  byOutcome() {
    const counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
    for (let i = 0; i < this.length; i++) counts[OUTCOMES[this.outcomes[i]]]++;
    return counts;
  }
}

function doubled<A extends Float64Array | Uint32Array | Uint8Array>(array: A): A {
  const grown = new (array.constructor as new (length: number) => A)(array.length * 2);
  grown.set(array);
  return grown;
}
