// The app, made as Nest's docs make it in main.ts, without the listen(): qilin serves it
// (qilin 'dist/app.js:createApp()'), main.ts listens on its own.
import path from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module.js';

export async function createApp(): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { logger: ['error', 'warn'] });
  app.useStaticAssets(path.join(import.meta.dirname, '..', 'public'));
  return app;
}
