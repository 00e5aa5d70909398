// Nest's own server: app.listen().
import { createApp } from './app.js';

const app = await createApp();
// On its own, the process gets SIGTERM itself: the hooks make it close the app (qilin calls close()).
app.enableShutdownHooks();
await app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '0.0.0.0');
