import { index, route } from '@react-router/dev/routes';

export default [
  index('routes/home.jsx'),
  route('stream', 'routes/stream.jsx'),
  route('go', 'routes/go.js'),
  route('api/json', 'routes/api-json.js'),
  route('api/echo', 'routes/api-echo.js'),
  route('api/cookie', 'routes/api-cookie.js'),
];
