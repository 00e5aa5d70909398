// A tRPC 11 router, as tRPC's docs write one (a validator function where they would use zod).
import { initTRPC, TRPCError } from '@trpc/server';

const t = initTRPC.create();
const items = [{ id: 1, name: 'first' }, { id: 2, name: 'second' }];

function validate<T>(check: (v: Record<string, unknown>) => boolean) {
  return (v: unknown): T => {
    if (typeof v !== 'object' || v === null || !check(v as Record<string, unknown>)) throw new Error('invalid input');
    return v as T;
  };
}

export const appRouter = t.router({
  item: t.procedure
    .input(validate<{ id: number }>((v) => typeof v.id === 'number'))
    .query(({ input }) => {
      const item = items.find((i) => i.id === input.id);
      if (!item) throw new TRPCError({ code: 'NOT_FOUND', message: `no item ${input.id}` });
      return item;
    }),
  slow: t.procedure.query(async () => {
    await new Promise((r) => setTimeout(r, 20));
    return { done: true };
  }),
  echo: t.procedure
    .input(validate<{ name: string; tags: string[] }>((v) => typeof v.name === 'string'))
    .mutation(({ input }) => ({ received: input })),
  login: t.procedure.mutation(() => ({ ok: true })),
});

export type AppRouter = typeof appRouter;

/** Both adapters take the same responseMeta: the login mutation sets the session cookie. */
export function responseMeta({ paths, errors }: { paths?: readonly string[]; errors: readonly unknown[] }) {
  if (errors.length === 0 && paths?.includes('login')) {
    return { headers: { 'set-cookie': 'session=abc123; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax' } };
  }
  return {};
}
