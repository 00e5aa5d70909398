// A GraphQL Yoga 5 server as its docs write one: `createYoga({ schema })`, which qilin serves as it is
// (qilin app.ts: an object with a fetch method); server.ts is Yoga's Node recipe, createServer(yoga).
import { createSchema, createYoga } from 'graphql-yoga';

const items = [{ id: 1, name: 'first' }, { id: 2, name: 'second' }];

export const yoga = createYoga({
  schema: createSchema({
    typeDefs: /* GraphQL */ `
      type Item { id: Int!, name: String! }
      type Query {
        hello(name: String): String!
        item(id: Int!): Item
      }
      type Mutation { echo(name: String!, tags: [String!]!): String! }
      type Subscription { countdown(from: Int!): Int! }
    `,
    resolvers: {
      Query: {
        hello: (_: unknown, { name }: { name?: string }) => `Hello, ${name ?? 'guest'}!`,
        item: (_: unknown, { id }: { id: number }) => items.find((i) => i.id === id) ?? null,
      },
      Mutation: {
        echo: (_: unknown, { name, tags }: { name: string; tags: string[] }) => `${name}: ${tags.join(', ')}`,
      },
      Subscription: {
        countdown: {
          async *subscribe(_: unknown, { from }: { from: number }) {
            for (let i = from; i >= 0; i--) {
              await new Promise((r) => setTimeout(r, 5));
              yield { countdown: i };
            }
          },
        },
      },
    },
  }),
  logging: false,
});

export default yoga;
