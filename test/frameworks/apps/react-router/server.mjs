// React Router's own request handler over the production build: a fetch handler
// (request, loadContext) => Response, which is what qilin serves.
import { createRequestHandler } from 'react-router';
import * as build from './build/server/index.js';

export default createRequestHandler(build, 'production');
