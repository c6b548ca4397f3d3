import polyglotI18nProvider from 'ra-i18n-polyglot';
import englishMessages from 'ra-language-english';

/** react-admin's English, with notifications that say what happened instead of "Element created". */
const messages = {
  ...englishMessages,
  ra: {
    ...englishMessages.ra,
    notification: {
      ...englishMessages.ra.notification,
      created: 'Saved',
      updated: 'Saved',
      deleted: 'Deleted',
      item_doesnt_exist: 'Not found: it may have been deleted',
    },
    message: {
      ...englishMessages.ra.message,
      invalid_form: 'Not saved: see the messages under the fields',
    },
  },
};

export const i18nProvider = polyglotI18nProvider(() => messages, 'en');
