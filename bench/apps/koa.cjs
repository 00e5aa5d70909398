// The bench's routes as a Koa 3 app (module.exports = app), routed on ctx.path as a hello app does.
const Koa = require('koa');

const app = new Koa();
app.use((ctx) => {
  if (ctx.path === '/json') ctx.body = { message: 'Hello, World!' };
  else ctx.body = 'Hello, World!';
});
module.exports = app;
