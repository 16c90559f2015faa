import { prometheusPlugin } from './plugin.js';

export { type PrometheusErrorCode, PrometheusErrorCodes } from './errors.js';
export {
  AlertFired,
  type AlertFiredData,
  AlertFiredSchema,
} from './events.js';
export {
  type PrometheusOptions,
  PrometheusOptionsSchema,
  parseDuration,
  type ValidateParams,
  ValidateParamsSchema,
} from './options.js';
export { prometheusPlugin, type ValidateResult } from './plugin.js';
export { parseSampleValue } from './query.js';

export default prometheusPlugin;
