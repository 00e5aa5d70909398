// The app, made as Nest's docs make it on Fastify in main.ts, without the listen(): qilin serves it
// (qilin 'dist/app.js:createApp()'), main.ts listens on its own.
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module.js';

export function createApp(): Promise<NestFastifyApplication> {
  return NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), { logger: ['error', 'warn'] });
}
