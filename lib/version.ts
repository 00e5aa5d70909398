// qilin's version, as package.json says it: on its own so that the public entry (lib/index.ts), the
// CLI and the arbiter's start-up line share it without one loading the others.
export const VERSION = '0.2.0';
