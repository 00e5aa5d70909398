// An Express 5 app as its docs write one (JavaScript: @types/express is not installed here); server.js
// is app.listen(), qilin serves the export (qilin app.js, node engine).
import express from 'express';

const items = [{ id: 1, name: 'first' }, { id: 2, name: 'second' }];

/** The request's cookies (cookie-parser, in a smaller form). */
function cookies(header) {
  const out = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = decodeURIComponent(part.slice(eq + 1).trim());
  }
  return out;
}

const app = express();
app.use(express.static('public'));
app.use(express.json());
app.use(express.urlencoded({ extended: false }));

app.get('/', (req, res) => {
  const c = cookies(req.headers.cookie);
  const name = c.name ?? 'guest';
  const theme = c.theme === 'dark' ? 'dark' : 'light';
  res.send(`<!doctype html>
<html><head><title>Express</title><link rel="stylesheet" href="/static/style.css"></head>
<body class="${theme}"><h1>Hello, ${name.replace(/[<>&"]/g, '')}!</h1></body></html>`);
});

app.get('/api/items/:id', (req, res) => {
  const item = items.find((i) => i.id === Number(req.params.id));
  if (item) res.json(item);
  else res.status(404).json({ error: 'not found' });
});

app.post('/api/echo', (req, res) => {
  res.json({ received: req.body });
});

app.post('/form', (req, res) => {
  res.json({ name: req.body.name, lang: req.body.lang });
});

app.get('/old', (req, res) => res.redirect('/'));

app.get('/login', (req, res) => {
  res.cookie('session', 'abc123', { path: '/', httpOnly: true, sameSite: 'lax', maxAge: 3600_000 });
  res.type('text').send('logged in');
});

app.get('/stream', (req, res) => {
  res.type('text');
  let i = 0;
  const next = () => {
    i++;
    res.write(`line ${i}\n`);
    if (i < 5) setTimeout(next, 5);
    else res.end();
  };
  next();
});

export default app;
