// The bench's routes as a Fastify 5 instance (module.exports = app, not yet ready: qilin and
// bench/servers/listen.ts both let Fastify load it, through ready() or listen()).
const fastify = require('fastify');

const app = fastify({ logger: false });
app.get('/', async () => 'Hello, World!');
app.get('/json', async () => ({ message: 'Hello, World!' }));
module.exports = app;
