export { mailingWorkflow } from './mailing';
export { reconcileMailings } from './reconcile';
