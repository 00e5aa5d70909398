// Errors the app leaves uncaught must not take the worker and its other requests down: a stray
// promise's rejection is logged, and so is an error thrown from one of the app's callbacks; thrown in
// a Node-style request's async context (a timer, a stream's unheard 'error'), that error fails its
// own request only (a 500, or a cut). The handlers are an effection resource of the worker's scope.
import { resource, type Operation } from 'effection';
import { currentTask, requestContext } from '../http/contracts.js';
import type { Logger } from '../ops/log.js';

/** `servesNodeApp()`: the app is Node-style (an uncaught exception may then belong to one of its requests). */
export function useAppErrorHandlers(log: Logger, servesNodeApp: () => boolean): Operation<void> {
  const onRejection = (err: unknown): void => log.exception('Unhandled rejection in the app', err);
  const onException = (err: Error): void => {
    const task = currentTask.getStore();
    if (task) {
      task.fail(err);
      return;
    }
    log.exception('Uncaught exception in the app', err);
    if (servesNodeApp() && !requestContext.tracked) {
      requestContext.tracked = true;
      log.warning(
        'The request that error came from is not known: from now on this worker runs each request in its ' +
          'async context, so that such an error answers its own request with a 500',
      );
    }
  };
  return resource(function* (provide) {
    process.on('unhandledRejection', onRejection);
    process.on('uncaughtException', onException);
    try {
      yield* provide();
    } finally {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    }
  });
}
