// A claim's messages should all have started within this long: well inside their lease.
const HORIZON_MS = 1_000;
// Past this a larger claim saves little: 64 messages a claim cost 40 µs of database time each, 256 20, 512 16.
const MAX_CLAIM = 512;

/**
 * How many due messages a send batch claims at once. A claim is a statement whose cost is mostly
 * fixed (planning, its trigger, a round trip), so claims grow, doubling from the worker's concurrency,
 * while a claim's messages all start within half of HORIZON_MS; they halve back when a claim took
 * longer than HORIZON_MS. At full speed a batch claims a few times; a slow provider or a low rate
 * limit never holds more messages leased than it soon gets to, and other workers may take the rest.
 */
export class ClaimSize {
  private size: number;
  private readonly ceiling: number;

  constructor(private readonly floor: number) {
    this.size = floor;
    this.ceiling = Math.max(floor, MAX_CLAIM);
  }

  get value(): number {
    return this.size;
  }

  /** The last claim, of `claimed` messages, was used up (each started or set aside) `elapsedMs` after it was made. */
  usedUp(claimed: number, elapsedMs: number): void {
    if (elapsedMs > HORIZON_MS) this.size = Math.max(this.floor, Math.floor(this.size / 2));
    else if (claimed >= this.size && elapsedMs <= HORIZON_MS / 2) this.size = Math.min(this.ceiling, this.size * 2);
  }
}
