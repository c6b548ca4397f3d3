import * as store from '../storage/messages';
import type { Message, MessageFilter } from '../storage/messages';
import type { Page, PageRequest } from '../storage/page';
import { NotFoundError } from './errors';

export function listMessages(filter: MessageFilter, page: PageRequest): Promise<Page<Message>> {
  return store.listMessages(filter, page);
}

export async function getMessage(id: number): Promise<Message> {
  const message = await store.findMessage(id);
  if (!message) throw new NotFoundError(`message ${id} does not exist`);
  return message;
}
