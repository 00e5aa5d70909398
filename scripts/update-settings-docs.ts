// Regenerates the settings table in docs/settings.md from lib/config/settings.ts (`npm run docs`).
import { readFileSync, writeFileSync } from 'node:fs';
import { markdownTable } from '../lib/config/settings.js';

const FILE = 'docs/settings.md';
const START = '<!-- settings:start -->';
const END = '<!-- settings:end -->';
const page = readFileSync(FILE, 'utf8');
const i = page.indexOf(START);
const j = page.indexOf(END);
if (i < 0 || j < i) throw new Error(`${FILE} lacks ${START} … ${END}`);
writeFileSync(FILE, `${page.slice(0, i + START.length)}\n${markdownTable()}\n${page.slice(j)}`);
