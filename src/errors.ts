import { brand } from './brand.js';

/**
 * Thrown inside a prediction once it was cancelled: by code awaiting cancellable work, and by
 * `scope.throwIfCanceled()`. The prediction ends `canceled` even if user code swallows it.
 */
export class CancelationError extends Error {
  override name = 'CancelationError';
  constructor(message = 'Prediction was canceled') {
    super(message);
  }
}

/** A predictor that cannot be loaded or described: bad reference, bad schema, bad cog.yaml. */
export class PredictorLoadError extends Error {
  override name = 'PredictorLoadError';
}

/** One broken input field, in Cog's 422 shape. */
export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

/** Inputs that break their schema: `detail` is Cog's `{"detail":[...]}` body for HTTP 422. */
export class InputValidationError extends Error {
  override name = 'InputValidationError';
  readonly detail: ValidationIssue[];
  constructor(detail: ValidationIssue[]) {
    super(
      detail
        .map((issue) => `${issue.loc.slice(2).join('.') || 'input'}: ${issue.msg}`)
        .join('; '),
    );
    this.detail = detail;
  }
}

/**
 * The server's own request (an input download, a webhook, an upload) was refused before or while
 * it went out: a redirect to a scheme other than http(s), too many redirects, an address that
 * `COG_DENY_PRIVATE_NETWORK=1` denies, a download that stalled or grew past its limit.
 */
export class OutboundRequestError extends Error {
  override name = 'OutboundRequestError';
}

brand(CancelationError, 'CancelationError');
brand(OutboundRequestError, 'OutboundRequestError');
brand(PredictorLoadError, 'PredictorLoadError');
brand(InputValidationError, 'InputValidationError');
