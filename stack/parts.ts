import type { Logger } from '../config/logger';
import type { ExitStatus } from './managed-process';

/** One started piece of the stack: a server process, an in-process fake, … */
export interface Part {
  name: string;
  stop(): Promise<void>;
  /** Settles when a child process exits; absent for in-process parts. */
  exited?: Promise<ExitStatus>;
}

/** What has been started, so it can be stopped in reverse order: clients before their servers. */
export class Parts {
  private readonly started: Part[] = [];

  constructor(private readonly logger: Logger) {}

  add(part: Part): void {
    this.started.push(part);
  }

  /** The first part whose process exits, with how it exited. */
  firstExit(): Promise<{ name: string; status: ExitStatus }> {
    const exits = this.started.flatMap(({ name, exited }) => (exited ? [exited.then((status) => ({ name, status }))] : []));
    return Promise.race(exits);
  }

  async stopAll(): Promise<void> {
    for (const part of this.started.splice(0).reverse()) {
      this.logger.info(`stopping ${part.name}`);
      try {
        await part.stop();
      } catch (error) {
        this.logger.error({ err: error }, `stopping ${part.name} failed`);
      }
    }
  }
}
