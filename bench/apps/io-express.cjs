// The I/O-bound case as an Express 5 app: GET / waits 20 ms (a database call), then answers.
const express = require('express');
const { setTimeout: sleep } = require('node:timers/promises');

const app = express();
app.get('/', async (req, res) => {
  await sleep(20);
  res.type('text/plain').send('Hello, World!');
});
module.exports = app;
