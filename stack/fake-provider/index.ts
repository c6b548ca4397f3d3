/** The fake SMS provider: `startFakeProvider` and what it records and injects. */
export { OUTCOMES, type Faults, type Outcome } from './faults';
export type { ReceivedRequest } from './journal';
export { startFakeProvider, type FakeProvider, type FakeProviderOptions } from './server';
