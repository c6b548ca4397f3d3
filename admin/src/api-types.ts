import type { components } from '../../contract/schema';

type Schemas = components['schemas'];
export type Client = Schemas['Client'];
export type Mailing = Schemas['Mailing'];
export type MailingStatus = Schemas['MailingStatus'];
export type MailingFilter = Schemas['MailingFilter'];
export type SendWindow = Schemas['SendWindow'];
export type Message = Schemas['Message'];
export type MessageStatus = Schemas['MessageStatus'];
export type StatusCounts = Schemas['StatusCounts'];
export type MailingInfo = Schemas['MailingInfo'];
export type MailingSummaryPage = Schemas['MailingSummaryPage'];
export type AudiencePreview = Schemas['AudiencePreview'];
export type ClientImportResult = Schemas['ClientImportResult'];
export type Caller = Schemas['Caller'];
export type SignOut = Schemas['SignOut'];

/** Every list answer of the API: one keyset page. */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export const MAILING_STATUSES: MailingStatus[] = ['scheduled', 'running', 'paused', 'finished', 'expired'];
export const MESSAGE_STATUSES: MessageStatus[] = ['pending', 'sent', 'failed', 'expired', 'cancelled'];
