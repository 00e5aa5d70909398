export default defineEventHandler((event) => sendRedirect(event, '/api/json', 307));
