import { AsyncLocalStorage } from 'node:async_hooks';
import type { SwitchyardEvent } from './events/envelope.js';

/** The delivery a piece of code runs under, so an emit inside a handler knows its cause. */
export interface DeliveryScope {
  event: SwitchyardEvent;
  subscription: string;
  attempt: number;
}

const storage = new AsyncLocalStorage<DeliveryScope>();

export function currentDelivery(): DeliveryScope | undefined {
  return storage.getStore();
}

export function runInDelivery<T>(scope: DeliveryScope, fn: () => T): T {
  return storage.run(scope, fn);
}
