// The bench's routes as an Express 5 app (module.exports = app): qilin serves this module, and
// bench/servers/listen.ts starts the same module on app.listen() for the anchors.
const express = require('express');

const app = express();
app.get('/', (req, res) => {
  res.type('text/plain').send('Hello, World!');
});
app.get('/json', (req, res) => {
  res.json({ message: 'Hello, World!' });
});
module.exports = app;
