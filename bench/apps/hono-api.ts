// The "Hono API" case: a JSON route with a route param behind the middleware an API usually has.
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { secureHeaders } from 'hono/secure-headers';

const app = new Hono();
app.use(cors());
app.use(secureHeaders());
app.get('/api/users/:id', (c) => c.json({ id: c.req.param('id'), name: 'Ada', roles: ['admin'] }));
export default app;
