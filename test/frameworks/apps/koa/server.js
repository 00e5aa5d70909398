// Koa's own server: app.listen().
import app from './app.js';

app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '0.0.0.0');
