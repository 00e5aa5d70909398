// Regenerates the README's settings table from lib/settings.ts (`npm run docs`).
import { readFileSync, writeFileSync } from 'node:fs';
import { markdownTable } from '../lib/settings.js';

const START = '<!-- settings:start -->';
const END = '<!-- settings:end -->';
const readme = readFileSync('README.md', 'utf8');
const i = readme.indexOf(START);
const j = readme.indexOf(END);
if (i < 0 || j < i) throw new Error(`README.md lacks ${START} … ${END}`);
writeFileSync('README.md', `${readme.slice(0, i + START.length)}\n${markdownTable()}\n${readme.slice(j)}`);
