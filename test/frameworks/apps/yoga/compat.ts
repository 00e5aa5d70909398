import { JSON_BODY } from '../../requests.js';
import type { FrameworkApp } from '../../types.js';

const q = (query: string) => `/graphql?query=${encodeURIComponent(query)}`;

export default {
  name: 'GraphQL Yoga 5',
  packages: ['graphql-yoga', 'graphql'],
  own: { argv: ['node', '--import', 'tsx', 'server.ts'] },
  qilin: { app: 'app.ts', engines: ['uws', 'node'] },
  readyPath: '/graphql?query=%7Bhello%7D',
  requests: [
    { name: 'page', path: '/graphql', headers: { accept: 'text/html' } }, // GraphiQL
    { name: 'json', path: q('{ hello item(id: 1) { id name } }'), headers: { accept: 'application/graphql-response+json' } },
    {
      name: 'post-json',
      method: 'POST',
      path: '/graphql',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({
        query: 'mutation($name: String!, $tags: [String!]!) { echo(name: $name, tags: $tags) }',
        variables: JSON.parse(JSON_BODY) as { name: string; tags: string[] },
      }).replace(',"n":1843', ''),
    },
    { name: 'not-found', path: '/no/such/page' },
    { name: 'head', method: 'HEAD', path: '/graphql', headers: { accept: 'text/html' } },
    { name: 'stream', path: q('subscription { countdown(from: 3) }'), headers: { accept: 'text/event-stream' } },
  ],
  notes:
    "Yoga's docs serve it on Node as http.createServer(yoga): the yoga instance is a (req, res) listener and, " +
    'for qilin, an object with a fetch method, so qilin serves it on both engines with nothing left out. ' +
    'page-cookie, post-form, static, static-304, redirect and set-cookie have no natural form in a GraphQL server; ' +
    'HEAD is answered 406 by Yoga on both.',
} satisfies FrameworkApp;
