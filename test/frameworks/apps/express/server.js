// Express's own server: app.listen().
import app from './app.js';

const port = Number(process.env.PORT ?? 3000);
app.listen(port, process.env.HOST ?? '0.0.0.0');
