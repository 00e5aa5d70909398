// readBody parses JSON and application/x-www-form-urlencoded alike.
export default defineEventHandler(async (event) => ({ got: await readBody(event) }));
