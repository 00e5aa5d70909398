export default defineEventHandler(() => ({ framework: 'nuxt', items: [1, 2, 3] }));
