import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Body, Controller, Get, Header, Headers, HttpCode, NotFoundException, Param, ParseIntPipe, Post, Redirect, StreamableFile } from '@nestjs/common';
import { ItemsService, type Item } from './items.service.js';

function cookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = decodeURIComponent(part.slice(eq + 1).trim());
  }
  return out;
}

@Controller()
export class AppController {
  constructor(private readonly items: ItemsService) {}

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  page(@Headers('cookie') cookie?: string): string {
    const c = cookies(cookie);
    const name = (c.name ?? 'guest').replace(/[<>&"]/g, '');
    const theme = c.theme === 'dark' ? 'dark' : 'light';
    return `<!doctype html>
<html><head><title>NestJS</title><link rel="stylesheet" href="/static/style.css"></head>
<body class="${theme}"><h1>Hello, ${name}!</h1></body></html>`;
  }

  @Get('api/items/:id')
  item(@Param('id', ParseIntPipe) id: number): Item {
    const item = this.items.find(id);
    if (!item) throw new NotFoundException('not found');
    return item;
  }

  @Post('api/echo')
  @HttpCode(200)
  echo(@Body() body: unknown): { received: unknown } {
    return { received: body };
  }

  @Post('form')
  @HttpCode(200)
  form(@Body() body: Record<string, string>): { name?: string; lang?: string } {
    return { name: body.name, lang: body.lang };
  }

  @Get('old')
  @Redirect('/', 302)
  old(): void {}

  @Get('login')
  @Header('Set-Cookie', 'session=abc123; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax')
  @Header('Content-Type', 'text/plain; charset=utf-8')
  login(): string {
    return 'logged in';
  }

  @Get('stream')
  stream(): StreamableFile {
    const lines = Readable.from((async function* () {
      for (let i = 1; i <= 5; i++) {
        yield Buffer.from(`line ${i}\n`);
        await sleep(5);
      }
    })());
    return new StreamableFile(lines, { type: 'text/plain; charset=utf-8' });
  }
}
