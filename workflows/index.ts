export { dailyStatsWorkflow } from './daily-stats';
export { mailingWorkflow } from './mailing';
export { reconcileMailings } from './reconcile';
